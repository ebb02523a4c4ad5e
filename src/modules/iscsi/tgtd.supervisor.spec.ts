import { TgtAdmAdapter } from './tgt.adapter';
import { TgtErrorCode } from './tgt.errors';
import { TgtdSupervisor } from './tgtd.supervisor';

describe('TgtdSupervisor (no daemon)', () => {
  it('builds the --iscsi portal option with optional NOP defaults', () => {
    expect(new TgtdSupervisor({ controlPort: 5, portal: { address: '127.0.0.1', port: 13261 } }).portalSpec()).toBe('portal=127.0.0.1:13261');
    const withNop = new TgtdSupervisor({ controlPort: 5, portal: { address: '::1', port: 3260 }, nopInterval: 5, nopCount: 6 });
    expect(withNop.portalSpec()).toBe('portal=[::1]:3260,nop_interval=5,nop_count=6');
  });

  it.each([[{ address: 'localhost; rm -rf /', port: 3260 }], [{ address: '127.0.0.1', port: 0 }], [{ address: '127.0.0.1', port: 70000 }]])(
    'rejects portal %j',
    (portal) => {
      expect(() => new TgtdSupervisor({ controlPort: 5, portal })).toThrow(expect.objectContaining({ code: TgtErrorCode.INVALID_ARGUMENT }));
    },
  );

  it('rejects bad NOP values and an adapter for another control port', () => {
    const portal = { address: '127.0.0.1', port: 3260 };
    expect(() => new TgtdSupervisor({ controlPort: 5, portal, nopInterval: -1 })).toThrow();
    expect(() => new TgtdSupervisor({ controlPort: 5, portal, adapter: new TgtAdmAdapter({ controlPort: 6 }) })).toThrow();
  });

  it('is not running before start and stop() is a no-op', async () => {
    const sup = new TgtdSupervisor({ controlPort: 5, portal: { address: '127.0.0.1', port: 3260 } });
    expect(sup.isRunning()).toBe(false);
    expect(sup.pid).toBeUndefined();
    await expect(sup.stop()).resolves.toBeUndefined();
  });
});
