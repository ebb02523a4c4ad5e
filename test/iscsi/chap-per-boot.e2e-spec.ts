/**
 * The per-boot CHAP secret against a real tgtd: IscsiExportsService (with an in-memory stand-in for its two tables)
 * over the real TgtExporter, TgtdSupervisor and libiscsi/qemu-io initiators. After a "reboot" (a new boot session →
 * a new secret), a login with the old secret fails and one with the new secret succeeds, while a login made before
 * the change stays logged in (CHAP is only checked at login).
 */
import { Logger } from '@nestjs/common';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.loader';
import { IscsiExportsService } from '../../src/modules/iscsi/iscsi-exports.service';
import { MemoryExports } from '../../src/modules/iscsi/testing/memory-exports';
import { TgtExporter } from '../../src/modules/iscsi/tgt-exporter';
import { TgtAdmAdapter } from '../../src/modules/iscsi/tgt.adapter';
import { TgtdSupervisor } from '../../src/modules/iscsi/tgtd.supervisor';
import { LOOPBACK, Login, SessionHolder, libiscsi, pickControlPort, pickPortalPort, tgtdPidsFor, waitFor } from './iscsi-test-helpers';

const CLIENT = '0a8c4d4e-7f0b-4a43-9f57-3d1b6a1c00e2';
const BOOT_1 = '11111111-1111-4111-8111-1111111111e2';
const BOOT_2 = '22222222-2222-4222-8222-2222222222e2';

let dir: string;
let port: number;
let controlPort: number;
let supervisor: TgtdSupervisor;
let service: IscsiExportsService;
let repo: MemoryExports;
const holders: SessionHolder[] = [];

beforeAll(async () => {
  Logger.overrideLogger(false);
  dir = await mkdtemp(join(tmpdir(), `dls-chap-e2e-${process.pid}-`));
  await writeFile(join(dir, 'disk.raw'), '');
  await truncate(join(dir, 'disk.raw'), 32 * 1024 * 1024);
  port = await pickPortalPort(7);
  controlPort = pickControlPort(7);
  const adapter = new TgtAdmAdapter({ controlPort, timeoutMs: 10_000 });
  supervisor = new TgtdSupervisor({ controlPort, portal: { address: LOOPBACK, port }, adapter, nopInterval: 5, nopCount: 3 });
  repo = new MemoryExports();
  // A user picks tgtd's listen address with DLS_ISCSI_PORTAL; here a loopback portal of its own, so the test never
  // listens on the host's interfaces.
  const config = loadConfig({ DLS_DATA_DIR: join(dir, 'data'), DLS_ISCSI_PORTAL: `${LOOPBACK}:${port}` });
  service = new IscsiExportsService(config, repo.asRepository(), supervisor, new TgtExporter({ adapter }), undefined, repo);
  await service.onApplicationBootstrap();
});

afterAll(async () => {
  for (const h of holders) h.kill();
  try {
    await service?.onApplicationShutdown();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  expect(await tgtdPidsFor(controlPort)).toEqual([]);
});

async function sessionsOf(tid: number): Promise<number[]> {
  const t = (await supervisor.adapter.showTargets()).find((x) => x.tid === tid);
  return (t?.sessions ?? []).map((s) => s.sid);
}

describe('per-boot CHAP secret with a real tgtd', () => {
  it('after a reboot the old secret no longer logs in, the new one does, and the login made before stays', async () => {
    repo.openSessions.set(CLIENT, BOOT_1);
    const boot1 = await service.ensureExport(CLIENT, join(dir, 'disk.raw'), { sessionId: BOOT_1 });
    const as = (secret: string): Login => ({ port, iqn: boot1.targetIqn, user: boot1.chapUser, secret, initiator: boot1.initiatorIqn });
    const tid = repo.rows.get(CLIENT)!.tid;

    expect((await libiscsi('iscsi-readcapacity16', as(boot1.chapSecret))).code).toBe(0);
    // The running client: one login held open across the change.
    holders.push(SessionHolder.start(as(boot1.chapSecret)));
    const [held] = await waitFor(async () => ((await sessionsOf(tid)).length ? sessionsOf(tid) : null), 10_000, 'the held login');

    // The client reboots: a new boot session, a new secret on the account.
    repo.openSessions.set(CLIENT, BOOT_2);
    const boot2 = await service.ensureExport(CLIENT, join(dir, 'disk.raw'), { sessionId: BOOT_2 });
    expect(boot2.chapSecret).not.toBe(boot1.chapSecret);
    expect(boot2.chapUser).toBe(boot1.chapUser);
    const after = (await supervisor.adapter.showTargets()).find((t) => t.tid === tid)!;
    expect(after.acls).toEqual([boot1.initiatorIqn]);
    expect(after.accounts).toEqual([{ user: boot1.chapUser, outgoing: false }]);

    const old = await libiscsi('iscsi-readcapacity16', as(boot1.chapSecret));
    expect(old.code).toBe(10);
    expect(old.output).toContain('Authentication failure');
    const fresh = await libiscsi('iscsi-readcapacity16', as(boot2.chapSecret));
    expect(fresh.code).toBe(0);

    // Past one NOP-In round (5 s), the login made with the old secret is still there.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(await sessionsOf(tid)).toContain(held);

    // tgtd lost the account (as after a restart): reconcile puts the open session's secret back, not a random one.
    // (tgt admits a login without CHAP while a target has no account bound — why the exporter empties the ACL while
    // it swaps an account.)
    await supervisor.adapter.deleteAccount(boot1.chapUser);
    expect((await libiscsi('iscsi-readcapacity16', as('AnyThingGoes01'))).code).toBe(0);
    await service.reconcile();
    expect((await libiscsi('iscsi-readcapacity16', as('AnyThingGoes01'))).code).toBe(10);
    expect((await libiscsi('iscsi-readcapacity16', as(boot2.chapSecret))).code).toBe(0);
  }, 60_000);
});
