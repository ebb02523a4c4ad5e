import { Logger } from '@nestjs/common';
import { ConflictError, DomainError } from '@common/errors/domain-error';
import { loadConfig } from '@config/config.loader';
import { decodeMagicPacket } from '@protocols/wol';
import { ClientWakerRegistry } from '../catalog';
import { RangeBroadcaster, RangeBroadcastErrorCode } from '../pxe-boot';
import type { RangeEvidence, WakeRangeFacts } from './wake-range';
import type { WakeTarget, WakeTargets } from './wake-targets';
import { WakeErrorCode } from './wake.errors';
import type { WakeBatchEvent } from './wake.events';
import { WakeService } from './wake.service';

const none: RangeEvidence = { reservation: null, lease: null, 'boot-session': null, 'group-default': null };
const target = (n: number, evidence: Partial<RangeEvidence>): WakeTarget => ({
  id: `c${n}`,
  hostname: `pc-${n}`,
  macAddress: `02:00:00:00:00:0${n}`,
  evidence: { ...none, ...evidence },
});
const range = (id: string, over: Partial<WakeRangeFacts> = {}): WakeRangeFacts => ({
  id,
  name: `room-${id}`,
  enabled: true,
  dhcpMode: 'full',
  interface: `if-${id}`,
  ...over,
});

/** Targets and ranges from memory; a broadcaster that records each datagram, refusing ranges listed in `refuse`. */
function setup(env: Record<string, string>, targets: WakeTarget[], ranges: WakeRangeFacts[], refuse: Record<string, DomainError> = {}) {
  const sent: { rangeId: string; port: number; mac: string }[] = [];
  const events: WakeBatchEvent[] = [];
  const fakeTargets = {
    clients: async (ids: readonly string[]) => targets.filter((t) => ids.includes(t.id)),
    groupMembers: async (id: string) => (id === 'g1' ? { name: 'room', members: targets } : null),
    ranges: async (ids: readonly string[]) => new Map(ranges.filter((r) => ids.includes(r.id)).map((r) => [r.id, r])),
  } as unknown as WakeTargets;
  const broadcaster: RangeBroadcaster = {
    broadcastOnRange(rangeId, port, payload) {
      if (refuse[rangeId]) throw refuse[rangeId];
      sent.push({ rangeId, port, mac: decodeMagicPacket(payload).mac });
      return { interface: `if-${rangeId}` };
    },
  };
  const registry = new ClientWakerRegistry();
  const service = new WakeService(loadConfig({ DLS_WOL_GAP_MS: '0', ...env }), fakeTargets, broadcaster, registry, {
    wakeSent: (e) => events.push(e),
  });
  service.onModuleInit();
  return { service, sent, events, registry };
}

describe('WakeService', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it("sends each client's magic packet on its own range, to every configured port, in order", async () => {
    const { service, sent } = setup(
      { DLS_WOL_PORTS: '9,7' },
      [target(1, { lease: 'a' }), target(2, { reservation: 'b', lease: 'a' })],
      [range('a'), range('b')],
    );
    const b = await service.wakeGroup('g1');
    expect(b).toMatchObject({ group: 'room', total: 2, sent: 2, failed: 0 });
    expect(b.clients.map((c) => [c.hostname, c.interface, c.source])).toEqual([
      ['pc-1', 'if-a', 'lease'],
      ['pc-2', 'if-b', 'reservation'],
    ]);
    expect(sent).toEqual([
      { rangeId: 'a', port: 9, mac: '02:00:00:00:00:01' },
      { rangeId: 'a', port: 7, mac: '02:00:00:00:00:01' },
      { rangeId: 'b', port: 9, mac: '02:00:00:00:00:02' },
      { rangeId: 'b', port: 7, mac: '02:00:00:00:00:02' },
    ]);
  });

  it('reports per client why it was not woken, and goes on with the others', async () => {
    const refused = new ConflictError(RangeBroadcastErrorCode.INTERFACE_UNAVAILABLE, 'interface if-c of range room-c is not served: interface down');
    const { service, sent, events } = setup(
      {},
      [target(1, {}), target(2, { lease: 'off' }), target(3, { lease: 'c' }), target(4, { 'group-default': 'a' }), target(5, { lease: 'gone' })],
      [range('a'), range('c'), range('off', { dhcpMode: 'off' })],
      { c: refused },
    );
    const b = await service.wakeGroup('g1');
    expect(b.clients.map((c) => [c.hostname, c.status, c.code])).toEqual([
      ['pc-1', 'failed', WakeErrorCode.WAKE_NO_RANGE],
      ['pc-2', 'failed', WakeErrorCode.WAKE_RANGE_DHCP_OFF],
      ['pc-3', 'failed', RangeBroadcastErrorCode.INTERFACE_UNAVAILABLE],
      ['pc-4', 'ok', undefined],
      ['pc-5', 'failed', WakeErrorCode.WAKE_NO_RANGE],
    ]);
    expect(b.clients[2].message).toBe('client pc-3: interface if-c of range room-c is not served: interface down');
    expect(sent.map((s) => s.mac)).toEqual(['02:00:00:00:00:04']);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ trigger: 'group', groupId: 'g1', total: 5, sent: 1, failed: 4 });
  });

  it('one client: its outcome, or the refusal as a domain error (409; 503 when the kernel refused; 404 unknown)', async () => {
    const { service } = setup({}, [target(1, { lease: 'a' }), target(2, { lease: 'x' }), target(3, {})], [range('a'), range('x')], {
      x: new DomainError('unavailable', RangeBroadcastErrorCode.BROADCAST_FAILED, 'sending on if-x failed: ENETDOWN'),
    });
    await expect(service.wakeClient('c1')).resolves.toMatchObject({ status: 'ok', interface: 'if-a', rangeId: 'a' });
    await expect(service.wakeClient('c2')).rejects.toMatchObject({
      kind: 'unavailable',
      code: 'BROADCAST_FAILED',
      details: { clientId: 'c2', rangeId: 'x' },
    });
    await expect(service.wakeClient('c3')).rejects.toMatchObject({ kind: 'conflict', code: 'WAKE_NO_RANGE' });
    await expect(service.wakeClient('c9')).rejects.toMatchObject({ kind: 'not_found', code: 'CLIENT_NOT_FOUND' });
    await expect(service.wakeGroup('g9')).rejects.toMatchObject({ kind: 'not_found', code: 'GROUP_NOT_FOUND' });
  });

  it("is the bulk action's waker: results in the order given", async () => {
    const { registry, sent } = setup({}, [target(1, { lease: 'a' }), target(2, {})], [range('a')]);
    const r = await registry.wake([
      { id: 'c2', hostname: 'pc-2' },
      { id: 'c1', hostname: 'pc-1' },
      { id: 'c7', hostname: 'gone' },
    ]);
    expect(r.map((x) => [x.clientId, x.status, x.code])).toEqual([
      ['c2', 'failed', 'WAKE_NO_RANGE'],
      ['c1', 'ok', undefined],
      ['c7', 'failed', 'CLIENT_NOT_FOUND'],
    ]);
    expect(sent).toHaveLength(1);
  });

  it('paces the packets DLS_WOL_GAP_MS apart, across concurrent batches', async () => {
    const { service } = setup({ DLS_WOL_GAP_MS: '20' }, [target(1, { lease: 'a' }), target(2, { lease: 'a' })], [range('a')]);
    const started = performance.now();
    await Promise.all([service.wakeGroup('g1'), service.wakeGroup('g1')]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(3 * 20 - 3);
  });
});
