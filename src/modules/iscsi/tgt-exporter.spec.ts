import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeTgt } from './testing/fake-tgt';
import { ExportSpec, TgtExporter, isFuseExport } from './tgt-exporter';
import { forceRemoveTarget, removeAllTargets } from './tgt-teardown';
import { TgtErrorCode } from './tgt.errors';

const PREFIX = 'iqn.2025-01.lab.dls:';
let dir: string;
let fake: FakeTgt;
let exporter: TgtExporter;

const spec = (n: number, over: Partial<ExportSpec> = {}): ExportSpec => ({
  tid: n,
  iqn: `${PREFIX}pc${n}`,
  backingPath: join(dir, `pc${n}.raw`),
  chapUser: `pc${n}`,
  chapSecret: `S3cretPass1${n}`,
  initiatorName: `iqn.2025-01.lab.dls:client${n}`,
  serial: `DLS-PC${n}`,
  ...over,
});
const noSleep = { sleep: async () => undefined };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dls-exporter-spec-'));
  for (const n of [1, 2, 3, 4]) await writeFile(join(dir, `pc${n}.raw`), '');
  await symlink(join(dir, 'pc1.raw'), join(dir, 'alias.raw'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
beforeEach(() => {
  fake = new FakeTgt();
  exporter = new TgtExporter({ adapter: fake.asAdapter(), forceRemove: noSleep });
});

describe('TgtExporter fast creation (after a reconcile)', () => {
  const P = { managedIqnPrefix: PREFIX };

  it('creates a new export with the six creating calls and no show, in the same state as the full path', async () => {
    await exporter.reconcile([spec(1)], P);
    fake.calls = [];
    expect(await exporter.ensureExport(spec(2))).toMatchObject({ action: 'created' });
    expect(fake.calls.map((c) => c.split(' ')[0])).toEqual(['newTarget', 'newLun', 'updateLun', 'newAccount', 'bindAccount', 'bindInitiatorName']);
    const t = fake.targets.get(2)!;
    expect(t.luns.find((l) => l.lun === 1)).toMatchObject({ backingStorePath: spec(2).backingPath, scsiSn: 'DLS-PC2' });
    expect(t.accounts).toEqual([{ user: 'pc2', outgoing: false }]);
    expect(t.acls).toEqual(['iqn.2025-01.lab.dls:client2']);
    // Idempotent: the next ensure reads tgtd and changes nothing.
    fake.calls = [];
    expect(await exporter.ensureExport(spec(2))).toMatchObject({ action: 'unchanged' });
    expect(fake.calls).toContain('showTargets');
    expect(fake.calls.filter((c) => !c.startsWith('show') && !c.startsWith('list'))).toEqual([]);
  });

  it('still refuses a backing file (also through a symlink) or IQN memory knows is exported', async () => {
    await exporter.reconcile([spec(1)], P);
    await expect(exporter.ensureExport(spec(2, { backingPath: join(dir, 'alias.raw') }))).rejects.toMatchObject({
      code: TgtErrorCode.BACKING_FILE_IN_USE,
    });
    await expect(exporter.ensureExport(spec(3, { iqn: spec(1).iqn }))).rejects.toMatchObject({ code: TgtErrorCode.TARGET_EXISTS });
    expect(fake.targets.size).toBe(1);
  });

  it('falls back to the full path when a target was made behind its back, and undoes what it made on a failure', async () => {
    await exporter.reconcile([], P);
    await fake.asAdapter().newTarget(3, `${PREFIX}pc3`); // e.g. an admin with tgtadm
    expect(await exporter.ensureExport(spec(3))).toMatchObject({ action: 'fixed' });
    expect(fake.targets.get(3)!.acls).toEqual(['iqn.2025-01.lab.dls:client3']);

    await exporter.reconcile([spec(3)], P);
    fake.failOn.push({ method: 'bindInitiatorName', code: TgtErrorCode.DAEMON_UNREACHABLE });
    await expect(exporter.ensureExport(spec(4))).rejects.toMatchObject({ code: TgtErrorCode.DAEMON_UNREACHABLE });
    expect(fake.targets.has(4)).toBe(false);
    expect(fake.accounts.has('pc4')).toBe(false);
    expect(await exporter.ensureExport(spec(4))).toMatchObject({ action: 'created' });
  });
});

describe('TgtExporter.ensureExport', () => {
  it('creates target, LUN 1 with pinned identity, account and ACL; a second call is a no-op', async () => {
    expect(await exporter.ensureExport(spec(1))).toMatchObject({ action: 'created' });
    const t = fake.targets.get(1)!;
    expect(t.luns.find((l) => l.lun === 1)).toMatchObject({ backingStorePath: spec(1).backingPath, scsiSn: 'DLS-PC1', scsiId: 'DLS-PC1' });
    expect(t.accounts).toEqual([{ user: 'pc1', outgoing: false }]);
    expect(t.acls).toEqual(['iqn.2025-01.lab.dls:client1']);
    expect(fake.accounts.get('pc1')).toBe('S3cretPass11');
    // ACL last, so nobody can log in to a half-made target.
    expect(fake.calls.filter((c) => !c.startsWith('show')).at(-1)).toBe('bindInitiatorName 1 iqn.2025-01.lab.dls:client1');

    fake.calls = [];
    expect(await exporter.ensureExport(spec(1))).toEqual({ tid: 1, iqn: spec(1).iqn, action: 'unchanged', changes: [] });
    expect(fake.calls).toEqual(['showTargets']);
  });

  it('fixes drift: offline state, missing ACL, extra ACL, missing binding, changed secret, changed serial, extra LUN', async () => {
    await exporter.ensureExport(spec(1));
    const t = fake.targets.get(1)!;
    t.state = 'offline';
    t.acls = ['ALL', 'iqn.2025-01.lab.dls:intruder'];
    t.accounts = [{ user: 'out1', outgoing: true }];
    fake.accounts.set('out1', 'x');
    t.luns.push({ ...t.luns[1], lun: 2 });
    const res = await exporter.ensureExport(spec(1, { chapSecret: 'N3wSecretPass1', serial: 'DLS-NEW' }));
    expect(res.action).toBe('fixed');
    const after = fake.targets.get(1)!;
    expect(after.state).toBe('ready');
    expect(after.acls).toEqual(['iqn.2025-01.lab.dls:client1']);
    expect(after.accounts).toEqual([{ user: 'pc1', outgoing: false }]);
    expect(after.luns.map((l) => l.lun)).toEqual([0, 1]);
    expect(after.luns[1].scsiSn).toBe('DLS-NEW');
    expect(fake.accounts.get('pc1')).toBe('N3wSecretPass1');
  });

  it('re-sets a secret it did not set itself (tgtd cannot reveal secrets), then is stable', async () => {
    await fake.newAccount('pc1', 'OldSecret1234');
    expect((await exporter.ensureExport(spec(1))).changes).toContain('reset CHAP secret of pc1');
    expect(fake.accounts.get('pc1')).toBe('S3cretPass11');
    expect((await exporter.ensureExport(spec(1))).action).toBe('unchanged');
  });

  it('refuses to export one backing file under two tids (also through a symlink)', async () => {
    await exporter.ensureExport(spec(1));
    await expect(exporter.ensureExport(spec(2, { backingPath: spec(1).backingPath }))).rejects.toMatchObject({
      code: TgtErrorCode.BACKING_FILE_IN_USE,
    });
    await expect(exporter.ensureExport(spec(2, { backingPath: join(dir, 'alias.raw') }))).rejects.toMatchObject({
      code: TgtErrorCode.BACKING_FILE_IN_USE,
    });
    expect(fake.targets.has(2)).toBe(false);
  });

  it('refuses a tid held by another IQN and an IQN held by another tid', async () => {
    await exporter.ensureExport(spec(1));
    await expect(exporter.ensureExport(spec(1, { iqn: `${PREFIX}other` }))).rejects.toMatchObject({ code: TgtErrorCode.TARGET_EXISTS });
    await expect(exporter.ensureExport(spec(2, { iqn: spec(1).iqn }))).rejects.toMatchObject({ code: TgtErrorCode.TARGET_EXISTS });
  });

  it('swapping the backing file under a live session needs force', async () => {
    await exporter.ensureExport(spec(1));
    fake.addSession(1, 'iqn.2025-01.lab.dls:client1');
    const moved = spec(1, { backingPath: join(dir, 'pc3.raw') });
    await expect(exporter.ensureExport(moved)).rejects.toMatchObject({ code: TgtErrorCode.TARGET_ACTIVE });
    expect(fake.targets.get(1)!.luns[1].backingStorePath).toBe(spec(1).backingPath);
    const res = await exporter.ensureExport(moved, { force: true });
    expect(res.action).toBe('fixed');
    expect(fake.targets.get(1)!.luns[1].backingStorePath).toBe(moved.backingPath);
    expect(fake.targets.get(1)!.sessions).toEqual([]);
  });

  it('rolls back what it created when a later step fails', async () => {
    fake.failOn.push({ method: 'bindInitiatorName', code: TgtErrorCode.UNKNOWN });
    await expect(exporter.ensureExport(spec(1))).rejects.toMatchObject({ code: TgtErrorCode.UNKNOWN });
    expect(fake.targets.size).toBe(0);
    expect(fake.accounts.size).toBe(0);
  });

  it('on an existing target, rolls back only the LUN it created', async () => {
    await fake.newTarget(1, spec(1).iqn);
    fake.failOn.push({ method: 'updateLun', code: TgtErrorCode.INVALID_REQUEST });
    await expect(exporter.ensureExport(spec(1))).rejects.toMatchObject({ code: TgtErrorCode.INVALID_REQUEST });
    expect(fake.targets.get(1)!.luns.map((l) => l.lun)).toEqual([0]);
  });

  it('validates the whole spec before touching tgt', async () => {
    for (const bad of [
      { iqn: 'iqn.2025-01.lab.dls:PC1' },
      { iqn: 'iqn.2025-01.lab.dls:pc 1' },
      { iqn: 'iqn.2025-01.lab.dls:pc1;x' },
      { backingPath: 'relative/pc1.raw' },
      { backingPath: join(dir, 'missing.raw') },
      { chapSecret: 'short' },
      { chapSecret: 'waytoolongsecret12' },
      { initiatorName: 'Client 1' },
      { serial: 'a,b' },
      { tid: 0 },
    ]) {
      await expect(exporter.ensureExport(spec(1, bad as Partial<ExportSpec>))).rejects.toMatchObject({ code: TgtErrorCode.INVALID_ARGUMENT });
    }
    expect(fake.calls).toEqual([]);
  });
});

describe('TgtExporter.removeExport', () => {
  it('deletes an idle target and its account; a missing target is a no-op', async () => {
    await exporter.ensureExport(spec(1));
    expect(await exporter.removeExport(1)).toEqual({ tid: 1, removed: true, sessionsCut: 0, accountsDeleted: ['pc1'] });
    expect(fake.targets.size).toBe(0);
    expect(fake.accounts.size).toBe(0);
    expect(await exporter.removeExport(1)).toMatchObject({ removed: false });
  });

  it('refuses with TARGET_ACTIVE while a session exists, force removes it', async () => {
    await exporter.ensureExport(spec(1));
    fake.addSession(1, 'iqn.2025-01.lab.dls:client1');
    await expect(exporter.removeExport(1)).rejects.toMatchObject({ code: TgtErrorCode.TARGET_ACTIVE });
    expect(fake.targets.has(1)).toBe(true);
    fake.busyForceDeletes = 2;
    expect(await exporter.removeExport(1, { force: true })).toMatchObject({ removed: true, sessionsCut: 1 });
    expect(fake.calls.filter((c) => c.startsWith('deleteTarget'))).toEqual(['deleteTarget 1 force', 'deleteTarget 1 force', 'deleteTarget 1 force']);
    expect(fake.calls).toContain('setTargetState 1 offline');
  });

  it('keeps an account another target still uses', async () => {
    await exporter.ensureExport(spec(1));
    await exporter.ensureExport(spec(2));
    await fake.bindAccount(2, 'pc1');
    expect((await exporter.removeExport(1)).accountsDeleted).toEqual([]);
    expect(fake.accounts.has('pc1')).toBe(true);
  });
});

describe('TgtExporter.sessions and reconcile', () => {
  it('lists sessions of every target', async () => {
    await exporter.ensureExport(spec(1));
    await exporter.ensureExport(spec(2));
    const sid = fake.addSession(2, 'iqn.2025-01.lab.dls:client2');
    expect(await exporter.sessions()).toEqual([
      { tid: 1, iqn: spec(1).iqn, sessions: [] },
      { tid: 2, iqn: spec(2).iqn, sessions: [{ sid, initiator: 'iqn.2025-01.lab.dls:client2', ip: '127.0.0.1' }] },
    ]);
  });

  it('creates missing, fixes drift, removes undesired managed targets and never touches others', async () => {
    await exporter.ensureExport(spec(1));
    await exporter.ensureExport(spec(2));
    await fake.newTarget(9, 'iqn.2024-01.lab.other:foreign');
    fake.targets.get(1)!.acls = [];
    const report = await exporter.reconcile([spec(1), spec(3)], { managedIqnPrefix: PREFIX });
    expect(report).toEqual({
      created: [{ tid: 3, iqn: spec(3).iqn }],
      fixed: [{ tid: 1, iqn: spec(1).iqn }],
      unchanged: [],
      removed: [{ tid: 2, iqn: spec(2).iqn }],
      failed: [],
    });
    expect([...fake.targets.keys()].sort()).toEqual([1, 3, 9]);
    expect(fake.accounts.has('pc2')).toBe(false);
  });

  it('re-creates everything after a daemon restart (empty tgtd)', async () => {
    await exporter.reconcile([spec(1), spec(2)], { managedIqnPrefix: PREFIX });
    fake.targets.clear();
    fake.accounts.clear();
    const report = await exporter.reconcile([spec(1), spec(2)], { managedIqnPrefix: PREFIX });
    expect(report.created.map((r) => r.tid)).toEqual([1, 2]);
    expect(fake.accounts.get('pc2')).toBe('S3cretPass12');
  });

  it('reports per-export failures and carries on', async () => {
    await fake.newTarget(1, 'iqn.2024-01.lab.other:foreign');
    const report = await exporter.reconcile([spec(1), spec(2)], { managedIqnPrefix: PREFIX });
    expect(report.failed).toEqual([expect.objectContaining({ tid: 1, code: TgtErrorCode.TARGET_EXISTS })]);
    expect(report.created).toEqual([{ tid: 2, iqn: spec(2).iqn }]);
  });

  it('rejects duplicates and exports outside the prefix before any change', async () => {
    await expect(exporter.reconcile([spec(1), spec(2, { tid: 1 })], { managedIqnPrefix: PREFIX })).rejects.toMatchObject({
      code: TgtErrorCode.INVALID_ARGUMENT,
    });
    await expect(exporter.reconcile([spec(1, { iqn: 'iqn.2024-01.lab.other:x' })], { managedIqnPrefix: PREFIX })).rejects.toMatchObject({
      code: TgtErrorCode.INVALID_ARGUMENT,
    });
    await expect(exporter.reconcile([], { managedIqnPrefix: 'iqn' })).rejects.toMatchObject({ code: TgtErrorCode.INVALID_ARGUMENT });
    expect(fake.calls).toEqual([]);
  });
});

describe('forceRemoveTarget', () => {
  it('offlines, retries delete --force every interval and kicks sessions after the threshold', async () => {
    await exporter.ensureExport(spec(1));
    fake.addSession(1, 'iqn.2025-01.lab.dls:client1');
    fake.busyForceDeletes = 100;
    let clock = 0;
    const sleeps: number[] = [];
    const removed = await forceRemoveTarget(fake.asAdapter(), 1, {
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
    });
    expect(removed).toBe(true);
    expect(sleeps.every((s) => s === 100)).toBe(true);
    // 11th attempt fails at t=1000 ms → sessions kicked → one more sleep → the 12th attempt succeeds.
    expect(sleeps.length).toBe(11);
    expect(fake.calls).toContain('deleteConnection 1 1');
  });

  it('gives up after the deadline with TARGET_ACTIVE', async () => {
    await exporter.ensureExport(spec(1));
    fake.addSession(1, 'iqn.2025-01.lab.dls:client1');
    fake.busyForceDeletes = 1000;
    fake.failOn.push({ method: 'deleteConnection', code: TgtErrorCode.SESSION_NOT_FOUND, times: 1000 });
    let clock = 0;
    await expect(
      forceRemoveTarget(fake.asAdapter(), 1, { timeoutMs: 500, now: () => clock, sleep: async (ms) => void (clock += ms) }),
    ).rejects.toMatchObject({ code: TgtErrorCode.TARGET_ACTIVE });
  });

  it('returns false for a target that does not exist', async () => {
    expect(await forceRemoveTarget(fake.asAdapter(), 5, noSleep)).toBe(false);
  });
});

describe('removeAllTargets (before tgtd stops)', () => {
  it('takes every target offline first, then deletes them one by one', async () => {
    for (const n of [1, 2, 3]) await exporter.ensureExport(spec(n));
    fake.calls = [];
    expect(await removeAllTargets(fake.asAdapter(), [1, 2, 3], noSleep)).toEqual({ removed: 3, left: 0 });
    expect(fake.targets.size).toBe(0);
    const order = fake.calls.filter((c) => c.startsWith('setTargetState') || c.startsWith('deleteTarget'));
    expect(order.slice(0, 3)).toEqual(['setTargetState 1 offline', 'setTargetState 2 offline', 'setTargetState 3 offline']);
    expect(order.filter((c) => c.startsWith('deleteTarget'))).toEqual(['deleteTarget 1 force', 'deleteTarget 2 force', 'deleteTarget 3 force']);
  });

  it('goes on past a target that stays busy, and says what is left', async () => {
    for (const n of [1, 2]) await exporter.ensureExport(spec(n));
    fake.addSession(1, 'iqn.2025-01.lab.dls:client1');
    fake.busyForceDeletes = 1000;
    fake.failOn.push({ method: 'deleteConnection', code: TgtErrorCode.SESSION_NOT_FOUND, times: 1000 });
    let clock = 0;
    const r = await removeAllTargets(fake.asAdapter(), [1, 2], {
      timeoutMs: 60_000,
      perTargetTimeoutMs: 500,
      now: () => clock,
      sleep: async (ms) => void (clock += ms),
    });
    expect(r).toMatchObject({ removed: 1, left: 1, error: { code: TgtErrorCode.TARGET_ACTIVE } });
    expect([...fake.targets.keys()]).toEqual([1]);
    expect(clock).toBeLessThan(1000); // one target's bound, not the whole stop's
  });

  it('stops at once when tgtd no longer answers (each further call would wait its full timeout)', async () => {
    for (const n of [1, 2, 3]) await exporter.ensureExport(spec(n));
    fake.failOn.push({ method: 'deleteTarget', code: TgtErrorCode.TIMEOUT });
    fake.calls = [];
    const r = await removeAllTargets(fake.asAdapter(), [1, 2, 3], noSleep);
    expect(r).toMatchObject({ removed: 0, left: 3, error: { code: TgtErrorCode.TIMEOUT } });
    expect(fake.calls.filter((c) => c.startsWith('deleteTarget'))).toEqual(['deleteTarget 1 force']);
  });

  it('keeps to its overall bound', async () => {
    for (const n of [1, 2, 3]) await exporter.ensureExport(spec(n));
    let clock = 0;
    const slow = fake.asAdapter();
    const del = fake.deleteTarget.bind(fake);
    fake.deleteTarget = async (tid, o) => {
      clock += 400; // each delete (tgtd closing the backing file) takes 400 ms
      return del(tid, o);
    };
    expect(await removeAllTargets(slow, [1, 2, 3], { timeoutMs: 700, now: () => clock, ...noSleep })).toEqual({ removed: 2, left: 1 });
  });
});

describe('isFuseExport', () => {
  it('is false for a file on an ordinary filesystem and for a path that does not exist (buffered I/O)', async () => {
    expect(await isFuseExport(__filename)).toBe(false);
    expect(await isFuseExport('/nonexistent/dls/disk.raw')).toBe(false);
  });
});
