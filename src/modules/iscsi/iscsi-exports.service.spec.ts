import { Logger } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainError } from '@common/errors/domain-error';
import { loadConfig } from '@config/config.loader';
import { IscsiExport } from './iscsi-export.entity';
import { IscsiExportsService } from './iscsi-exports.service';
import { IscsiErrorCode } from './iscsi.errors';
import { FakeTgt } from './testing/fake-tgt';
import { TgtExporter } from './tgt-exporter';
import { TgtErrorCode } from './tgt.errors';
import { MemoryExports } from './testing/memory-exports';
import { TgtdExitInfo, TgtdSupervisor } from './tgtd.supervisor';

const PREFIX = 'iqn.2026-11.io.dls';
const A = '0a8c4d4e-7f0b-4a43-9f57-3d1b6a1c0001';
const B = '5b2e9f10-33c1-4d8e-8a6b-2f4c8e9d0002';
const SESSION_A = '3c0ffee0-0000-4000-8000-00000000000a';

/** Stands in for the tgtd process: start/stop bookkeeping and a way to make it "crash". */
class FakeSupervisor {
  starts = 0;
  stops = 0;
  failStarts = 0;
  pid?: number;
  /** The control socket, as readiness asks it. */
  readonly adapter = { showSystem: async () => 'System:' };
  private listeners: Array<(info: TgtdExitInfo) => void> = [];

  async start(): Promise<void> {
    this.starts++;
    if (this.failStarts > 0) {
      this.failStarts--;
      throw new Error('tgtd exited with code 1');
    }
    this.pid = 4242;
  }

  async stop(): Promise<void> {
    this.stops++;
    this.pid = undefined;
  }

  isRunning(): boolean {
    return this.pid !== undefined;
  }

  onExit(listener: (info: TgtdExitInfo) => void): () => void {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }

  crash(): void {
    this.pid = undefined;
    for (const l of this.listeners) l({ pid: 4242, code: null, signal: 'SIGKILL', expected: false });
  }

  asSupervisor(): TgtdSupervisor {
    return this as unknown as TgtdSupervisor;
  }
}

let dir: string;
let diskA: string;
let diskB: string;
let tgt: FakeTgt;
let repo: MemoryExports;
let supervisor: FakeSupervisor;
let service: IscsiExportsService | undefined;

function build(env: Record<string, string> = {}, dataDir = join(dir, 'data')): IscsiExportsService {
  const config = loadConfig({ DLS_DATA_DIR: dataDir, ...env });
  const exporter = new TgtExporter({ adapter: tgt.asAdapter(), forceRemove: { sleep: async () => undefined } });
  return new IscsiExportsService(config, repo.asRepository(), supervisor.asSupervisor(), exporter, undefined, repo);
}

async function started(env: Record<string, string> = {}): Promise<IscsiExportsService> {
  const s = build(env);
  await s.onApplicationBootstrap();
  return s;
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function domainError(p: Promise<unknown>): Promise<DomainError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof DomainError)) throw new Error(`expected a DomainError, got ${String(e)}`);
  return e;
}

/** The documented derivation, computed independently of the service. */
function expectedSecret(key: string, clientId: string, nonce: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const mac = createHmac('sha256', key).update(`chap:${clientId}:${nonce}`).digest();
  return [...mac.subarray(0, 16)].map((b) => alphabet[b % 62]).join('');
}

beforeAll(() => Logger.overrideLogger(false));
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dls-iscsi-service-spec-'));
  diskA = join(dir, 'a.raw');
  diskB = join(dir, 'b.raw');
  await writeFile(diskA, '');
  await writeFile(diskB, '');
  tgt = new FakeTgt();
  repo = new MemoryExports();
  supervisor = new FakeSupervisor();
});
afterEach(async () => {
  await service?.onApplicationShutdown();
  service = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('IscsiExportsService.ensureExport', () => {
  it('creates the target, LUN, CHAP account and ACL once and returns the login details', async () => {
    service = await started();
    const info = await service.ensureExport(A, diskA);

    expect(info).toEqual({
      targetIqn: `${PREFIX}:client-${A}`,
      initiatorIqn: `${PREFIX}:initiator-${A}`,
      chapUser: 'dls-0a8c4d4e7f0b4a43',
      chapSecret: expect.stringMatching(/^[A-Za-z0-9]{16}$/),
      portal: { address: '0.0.0.0', port: 3260 }, // where tgtd listens (the default); the boot plane names a reachable address
      lun: 1,
    });
    expect(repo.rows.get(A)).toMatchObject({ tid: 1, targetIqn: info.targetIqn, backingPath: diskA, chapUser: info.chapUser });
    const t = tgt.targets.get(1)!;
    expect(t.iqn).toBe(info.targetIqn);
    expect(t.luns.find((l) => l.lun === 1)).toMatchObject({ backingStorePath: diskA, scsiSn: 'DLS0A8C4D4E7F0B' });
    expect(t.acls).toEqual([info.initiatorIqn]);
    expect(t.accounts).toEqual([{ user: info.chapUser, outgoing: false }]);
    expect(tgt.accounts.get(info.chapUser)).toBe(info.chapSecret);
  });

  it('reports an explicit DLS_ISCSI_PORTAL as it is, and ignores DLS_BOOT_SERVER_IP (a boot-plane override)', async () => {
    service = await started({ DLS_ISCSI_PORTAL: '10.0.0.5:3261', DLS_BOOT_SERVER_IP: '10.0.0.1' });
    expect((await service.ensureExport(A, diskA)).portal).toEqual({ address: '10.0.0.5', port: 3261 });
  });

  it('is idempotent: a second call returns the same details without any tgtadm call', async () => {
    service = await started();
    const first = await service.ensureExport(A, diskA);
    tgt.calls = [];
    expect(await service.ensureExport(A, diskA)).toEqual(first);
    expect(tgt.calls).toEqual([]);
    expect(tgt.targets.size).toBe(1);
    expect(repo.rows.size).toBe(1);
  });

  it('moves the LUN to a new disk path and keeps the tid', async () => {
    service = await started();
    await service.ensureExport(A, diskA);
    await service.ensureExport(A, diskB);
    expect(repo.rows.get(A)).toMatchObject({ tid: 1, backingPath: diskB });
    expect(tgt.targets.get(1)!.luns.find((l) => l.lun === 1)!.backingStorePath).toBe(diskB);
  });

  it('gives concurrent new exports distinct tids (retrying a lost tid race)', async () => {
    service = await started();
    const [a, b] = await Promise.all([service.ensureExport(A, diskA), service.ensureExport(B, diskB)]);
    expect(new Set([repo.rows.get(A)!.tid, repo.rows.get(B)!.tid])).toEqual(new Set([1, 2]));
    expect([...tgt.targets.values()].map((t) => t.iqn).sort()).toEqual([a.targetIqn, b.targetIqn].sort());
  });

  it('gives 50 concurrent first exports distinct tids, none failing (a boot storm of first requests)', async () => {
    service = await started();
    const clients = Array.from({ length: 50 }, (_, i) => `${String(i).padStart(8, '0')}-7f0b-4a43-9f57-3d1b6a1c0000`);
    const disks = await Promise.all(
      clients.map(async (_c, i) => {
        const p = join(dir, `storm-${i}.raw`);
        await writeFile(p, '');
        return p;
      }),
    );
    const results = await Promise.allSettled(clients.map((c, i) => service!.ensureExport(c, disks[i])));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const tids = clients.map((c) => repo.rows.get(c)!.tid);
    expect(new Set(tids).size).toBe(50);
    expect([...tgt.targets.keys()].sort((a, b) => a - b)).toEqual([...tids].sort((a, b) => a - b));
  });

  it('skips a tid a foreign target holds in tgtd, and re-reads the table when another writer took the next tid', async () => {
    service = await started();
    await tgt.asAdapter().newTarget(1, 'iqn.2026-11.io.other:foreign');
    await service.ensureExport(A, diskA);
    expect(repo.rows.get(A)!.tid).toBe(2);
    // Another DLS process on the same database inserts tid 3 behind this one's back.
    repo.rows.set('other', { ...repo.rows.get(A)!, clientId: 'other', tid: 3, targetIqn: `${PREFIX}:client-other` });
    await service.ensureExport(B, diskB);
    expect(repo.rows.get(B)!.tid).toBe(4);
  });

  it('maps tgt failures to ISCSI_UNAVAILABLE and does not cache the failed export', async () => {
    service = await started();
    tgt.failOn.push({ method: 'newTarget', code: TgtErrorCode.DAEMON_UNREACHABLE });
    const err = await domainError(service.ensureExport(A, diskA));
    expect(err).toMatchObject({ kind: 'unavailable', code: IscsiErrorCode.ISCSI_UNAVAILABLE });
    await service.ensureExport(A, diskA);
    expect(tgt.targets.get(1)?.iqn).toBe(`${PREFIX}:client-${A}`);
  });
});

describe('IscsiExportsService CHAP secrets', () => {
  const S1 = '11111111-1111-4111-8111-111111111111';
  const S2 = '22222222-2222-4222-8222-222222222222';

  it('derives the secret from the stored key, the client id and the boot session: per boot, per client, per key', async () => {
    service = await started();
    const key = (await readFile(join(dir, 'data', 'secrets', 'chap-key'), 'utf8')).trim();
    const a = await service.ensureExport(A, diskA, { sessionId: S1 });
    const b = await service.ensureExport(B, diskB, { sessionId: S1 });
    expect(a.chapSecret).toBe(expectedSecret(key, A, S1));
    expect(b.chapSecret).toBe(expectedSecret(key, B, S1));
    expect(a.chapSecret).not.toBe(b.chapSecret);
    expect(service.chapSecretFor(A, S2)).not.toBe(a.chapSecret);

    // Another process with the same data dir derives the same secret (nothing is stored per client).
    const again = build();
    await again.onApplicationBootstrap();
    expect(again.chapSecretFor(A, S1)).toBe(a.chapSecret);
    await again.onApplicationShutdown();

    // A different key gives different secrets.
    const other = build({}, join(dir, 'other-data'));
    await other.onApplicationBootstrap();
    expect(other.chapSecretFor(A, S1)).not.toBe(a.chapSecret);
    await other.onApplicationShutdown();
  });

  it('is stable within a boot: the same session again costs no tgtadm call, and so does a call without a session', async () => {
    service = await started();
    const first = await service.ensureExport(A, diskA, { sessionId: S1 });
    tgt.calls = [];
    expect(await service.ensureExport(A, diskA, { sessionId: S1 })).toEqual(first);
    expect(await service.ensureExport(A, diskA)).toEqual(first);
    expect(tgt.calls).toEqual([]);
    expect(tgt.accounts.get(first.chapUser)).toBe(first.chapSecret);
  });

  it('a new boot session re-creates the CHAP account with the new secret and re-binds it; a live login stays', async () => {
    service = await started();
    const first = await service.ensureExport(A, diskA, { sessionId: S1 });
    const sid = tgt.addSession(1, first.initiatorIqn);
    tgt.calls = [];

    const second = await service.ensureExport(A, diskA, { sessionId: S2 });

    expect(second.chapSecret).not.toBe(first.chapSecret);
    expect(second.chapUser).toBe(first.chapUser);
    expect(tgt.accounts.get(first.chapUser)).toBe(second.chapSecret);
    // The ACL is emptied first (tgt admits anyone the ACL allows, without CHAP, while no account is bound) and restored last.
    expect(tgt.calls.filter((c) => /Account|Initiator/.test(c))).toEqual([
      expect.stringMatching(/^unbindInitiatorName 1/),
      `deleteAccount ${first.chapUser}`,
      `newAccount ${first.chapUser}`,
      `bindAccount 1 ${first.chapUser}`,
      expect.stringMatching(/^bindInitiatorName 1/),
    ]);
    const t = tgt.targets.get(1)!;
    expect(t.accounts).toEqual([{ user: first.chapUser, outgoing: false }]);
    expect(t.acls).toEqual([first.initiatorIqn]);
    expect(t.sessions.map((s) => s.sid)).toEqual([sid]); // no cut, no re-created target
    expect(t.luns.find((l) => l.lun === 1)!.backingStorePath).toBe(diskA);
  });

  it('without a session, a fresh export takes the secret of the open session in the database', async () => {
    service = await started();
    repo.openSessions.set(A, S2);
    const info = await service.ensureExport(A, diskA);
    expect(info.chapSecret).toBe(service.chapSecretFor(A, S2));
    expect((await service.credentials(A)).chapSecret).toBe(info.chapSecret);
  });
});

describe('IscsiExportsService.exportOfBoot', () => {
  const S1 = '11111111-1111-4111-8111-111111111111';
  const S2 = '22222222-2222-4222-8222-222222222222';

  it('reads the login details of the boot the account was made for, without a tgtadm call; null for any other', async () => {
    service = await started();
    expect(await service.exportOfBoot(A, S1)).toBeNull(); // no export yet
    const made = await service.ensureExport(A, diskA, { sessionId: S1 });
    tgt.calls = [];
    expect(await service.exportOfBoot(A, S1)).toEqual(made);
    expect(await service.exportOfBoot(A, S2)).toBeNull(); // the account carries S1's secret, not S2's
    expect(await service.exportOfBoot(B, S1)).toBeNull();
    expect(tgt.calls).toEqual([]);
    expect(tgt.accounts.get(made.chapUser)).toBe(made.chapSecret);
  });

  it('after a restart, answers for the open session the reconcile put on the account', async () => {
    service = await started();
    await service.ensureExport(A, diskA, { sessionId: S1 });
    await service.onApplicationShutdown();
    repo.openSessions.set(A, S2);
    service = await started();
    expect(await service.exportOfBoot(A, S1)).toBeNull();
    expect((await service.exportOfBoot(A, S2))?.chapSecret).toBe(service.chapSecretFor(A, S2));
  });

  it('answers null while iSCSI is disabled', async () => {
    service = await started({ DLS_ISCSI_ENABLED: 'false' });
    expect(await service.exportOfBoot(A, S1)).toBeNull();
  });
});

describe('IscsiExportsService.removeExport', () => {
  it('removes target, account and row; a later ensure creates it again', async () => {
    service = await started();
    const info = await service.ensureExport(A, diskA);
    expect(await service.removeExport(A, { force: false })).toEqual({ removed: true });
    expect(tgt.targets.size).toBe(0);
    expect(tgt.accounts.has(info.chapUser)).toBe(false);
    expect(repo.rows.has(A)).toBe(false);

    await service.ensureExport(A, diskA);
    expect(tgt.targets.size).toBe(1);
  });

  it('refuses with EXPORT_ACTIVE while the client is logged in; force cuts the session', async () => {
    service = await started();
    await service.ensureExport(A, diskA);
    tgt.addSession(1, `${PREFIX}:initiator-${A}`);

    const err = await domainError(service.removeExport(A, { force: false }));
    expect(err).toMatchObject({ kind: 'conflict', code: IscsiErrorCode.EXPORT_ACTIVE });
    expect(tgt.targets.has(1)).toBe(true);
    expect(repo.rows.has(A)).toBe(true);

    expect(await service.removeExport(A, { force: true })).toEqual({ removed: true });
    expect(tgt.targets.has(1)).toBe(false);
    expect(repo.rows.has(A)).toBe(false);
  });

  it('is a no-op for a client without an export', async () => {
    service = await started();
    await service.ensureExport(B, diskB);
    tgt.calls = [];
    expect(await service.removeExport(A, { force: true })).toEqual({ removed: false });
    expect(tgt.calls).toEqual([]);
    expect(tgt.targets.size).toBe(1);
  });

  it('is a no-op when iSCSI is disabled', async () => {
    repo.rows.set(A, { clientId: A, tid: 1, targetIqn: `${PREFIX}:client-${A}` } as IscsiExport);
    service = await started({ DLS_ISCSI_ENABLED: 'false' });
    expect(await service.removeExport(A, { force: true })).toEqual({ removed: false });
    expect(repo.rows.has(A)).toBe(true);
    expect(tgt.calls).toEqual([]);
  });
});

describe('IscsiExportsService start-up and tgtd restarts', () => {
  it('reconciles at start: re-creates exports from the table, skips missing disks, removes stale managed targets', async () => {
    repo.openSessions.set(A, SESSION_A);
    repo.rows.set(A, {
      clientId: A,
      tid: 7,
      targetIqn: `${PREFIX}:client-${A}`,
      initiatorIqn: `${PREFIX}:initiator-${A}`,
      backingPath: diskA,
      chapUser: 'dls-a',
    } as IscsiExport);
    repo.rows.set(B, {
      clientId: B,
      tid: 8,
      targetIqn: `${PREFIX}:client-${B}`,
      initiatorIqn: `${PREFIX}:initiator-${B}`,
      backingPath: join(dir, 'gone.raw'),
      chapUser: 'dls-b',
    } as IscsiExport);
    await tgt.newTarget(3, `${PREFIX}:client-stale`);
    await tgt.newTarget(4, 'iqn.2020-01.org.other:keep');

    service = await started();

    expect(supervisor.starts).toBe(1);
    expect([...tgt.targets.keys()].sort()).toEqual([4, 7]);
    expect(tgt.targets.get(7)!.luns.find((l) => l.lun === 1)!.backingStorePath).toBe(diskA);
    // The open session's secret (the script it was given carries it).
    expect(tgt.accounts.get('dls-a')).toBe(service.chapSecretFor(A, SESSION_A));
    // Readiness counts what tgtd exports now, re-created ones included (it read 0 after every start).
    expect(await service.tgtdReadiness()).toMatchObject({ up: true, detail: { exports: 1 } });
  });

  it('re-creates every export after tgtd dies and comes back, with the secret of the open session', async () => {
    const svc = (service = await started());
    repo.openSessions.set(A, SESSION_A);
    const a = await svc.ensureExport(A, diskA, { sessionId: SESSION_A });
    await svc.ensureExport(B, diskB);
    const before = JSON.stringify([...tgt.targets.values()]);

    // tgtd keeps no state: a crash loses every target and account.
    tgt.targets.clear();
    tgt.accounts.clear();
    supervisor.crash();
    expect(await svc.tgtdReadiness()).toMatchObject({ up: false });
    const ready = async () => (await svc.tgtdReadiness()).up;
    await waitFor(ready, 'the service to be ready again');
    // Both exports were re-created by the restart's reconcile, not by a later ensureExport.
    expect(await svc.tgtdReadiness()).toMatchObject({ up: true, detail: { exports: 2 } });

    expect(supervisor.starts).toBe(2);
    expect(JSON.stringify([...tgt.targets.values()])).toBe(before);
    expect(tgt.accounts.get(a.chapUser)).toBe(a.chapSecret);
    expect(await svc.ensureExport(A, diskA)).toEqual(a);
  });

  it('answers ISCSI_UNAVAILABLE while tgtd could not be started', async () => {
    supervisor.failStarts = 1;
    service = await started();
    const err = await domainError(service.ensureExport(A, diskA));
    expect(err).toMatchObject({ kind: 'unavailable', code: IscsiErrorCode.ISCSI_UNAVAILABLE });
    expect(tgt.targets.size).toBe(0);
  });

  it('answers ISCSI_DISABLED and starts nothing when iSCSI is disabled', async () => {
    service = await started({ DLS_ISCSI_ENABLED: 'false' });
    const err = await domainError(service.ensureExport(A, diskA));
    expect(err).toMatchObject({ kind: 'unavailable', code: IscsiErrorCode.ISCSI_DISABLED });
    expect(supervisor.starts).toBe(0);
    expect(await service.activeSessions()).toEqual(new Map());
    await service.onApplicationShutdown();
    expect(supervisor.stops).toBe(0);
  });

  it('stops tgtd at shutdown', async () => {
    service = await started();
    await service.onApplicationShutdown();
    expect(supervisor.stops).toBe(1);
  });
});

describe('IscsiExportsService.activeSessions', () => {
  afterEach(() => jest.restoreAllMocks());

  it("maps each managed target's newest login to its client id, with the time it was first seen", async () => {
    service = await started();
    await service.ensureExport(A, diskA);
    await service.ensureExport(B, diskB);
    const tidA = repo.rows.get(A)!.tid;
    await tgt.newTarget(9, 'iqn.2020-01.org.other:foreign');
    tgt.addSession(9, 'iqn.2020-01.org.other:someone');
    const now = jest.spyOn(Date, 'now');

    tgt.addSession(tidA, `${PREFIX}:initiator-${A}`);
    tgt.targets.get(tidA)!.sessions[0].connections[0].ip = '10.0.0.21';
    now.mockReturnValue(1_000);
    expect(await service.activeSessions()).toEqual(new Map([[A, { ip: '10.0.0.21', since: new Date(1_000) }]]));

    // The client reboots: a new login (higher sid) while the dead one lingers.
    tgt.addSession(tidA, `${PREFIX}:initiator-${A}`);
    tgt.targets.get(tidA)!.sessions[1].connections[0].ip = '10.0.0.22';
    now.mockReturnValue(5_000);
    expect(await service.activeSessions()).toEqual(new Map([[A, { ip: '10.0.0.22', since: new Date(5_000) }]]));

    now.mockReturnValue(9_000);
    expect((await service.activeSessions()).get(A)).toEqual({ ip: '10.0.0.22', since: new Date(5_000) });
  });
});

describe('IscsiExportsService.reopenExports', () => {
  it('re-creates the targets of re-mounted disks with the same tid, path and secret, and leaves the others alone', async () => {
    service = await started();
    const a = await service.ensureExport(A, diskA);
    await service.ensureExport(B, diskB);
    tgt.calls = [];
    await service.reopenExports([A, '00000000-0000-4000-8000-000000000000']);
    expect(tgt.calls).toEqual(expect.arrayContaining(['deleteTarget 1', 'newTarget 1', 'newLun 1 1']));
    expect(tgt.calls.filter((c) => / 2( |$)/.test(c))).toEqual([]);
    expect(tgt.targets.get(1)!.luns.find((l) => l.lun === 1)!.backingStorePath).toBe(diskA);
    tgt.calls = [];
    expect(await service.ensureExport(A, diskA)).toEqual(a); // same login details, and no tgtadm call
    expect(tgt.calls).toEqual([]);
  });
});
