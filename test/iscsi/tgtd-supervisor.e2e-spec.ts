/**
 * TgtdSupervisor lifecycle against the real tgtd: crash → restart → reconcile, graceful stop with live sessions,
 * a taken portal, and attaching to a running daemon. Each test uses its own control port and loopback portal.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportSpec, TgtExporter } from '../../src/modules/iscsi/tgt-exporter';
import { TgtErrorCode } from '../../src/modules/iscsi/tgt.errors';
import { TgtdExitInfo, TgtdSupervisor } from '../../src/modules/iscsi/tgtd.supervisor';
import { LOOPBACK, Login, SessionHolder, libiscsi, pickControlPort, pickPortalPort, tgtdPidsFor, waitFor } from './iscsi-test-helpers';

const PREFIX = 'iqn.2025-01.lab.dls.sup:';
let dir: string;
const supervisors: TgtdSupervisor[] = [];
const holders: SessionHolder[] = [];
const controlPorts: number[] = [];

interface AttachTo {
  port: number;
  controlPort: number;
  startTimeoutMs: number;
}

async function newSupervisor(salt: number, attachTo?: AttachTo) {
  const port = attachTo ? attachTo.port : await pickPortalPort(salt);
  const controlPort = attachTo ? attachTo.controlPort : pickControlPort(salt);
  const warnings: string[] = [];
  const sup = new TgtdSupervisor({
    controlPort,
    portal: { address: LOOPBACK, port },
    attach: !!attachTo,
    startTimeoutMs: attachTo?.startTimeoutMs,
    logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
  });
  supervisors.push(sup);
  controlPorts.push(controlPort);
  return { sup, port, controlPort, warnings };
}

function exportSpec(n: number): ExportSpec {
  return {
    tid: n,
    iqn: `${PREFIX}pc${n}`,
    backingPath: join(dir, `pc${n}.raw`),
    chapUser: `sup-pc${n}`,
    chapSecret: `Sup3rSecret0${n}`,
    initiatorName: `iqn.2025-01.lab.dls.sup:client${n}`,
    serial: `DLS-SUP-${n}`,
  };
}
const login = (s: ExportSpec, port: number): Login => ({ port, iqn: s.iqn, user: s.chapUser, secret: s.chapSecret, initiator: s.initiatorName });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), `dls-tgtd-e2e-${process.pid}-`));
  for (const n of [1, 2]) {
    await writeFile(join(dir, `pc${n}.raw`), '');
    await truncate(join(dir, `pc${n}.raw`), 16 * 1024 * 1024);
  }
});

afterAll(async () => {
  for (const h of holders) h.kill();
  for (const s of supervisors.reverse()) await s.stop().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
  for (const cp of controlPorts) expect(await tgtdPidsFor(cp)).toEqual([]);
});

describe('TgtdSupervisor with the real tgtd', () => {
  it('after a SIGKILL, reports the crash; restart + reconcile re-create the export and a login works again', async () => {
    const { sup, port } = await newSupervisor(11);
    const exporter = new TgtExporter({ adapter: sup.adapter });
    const s = exportSpec(1);
    await sup.start();
    expect(await exporter.reconcile([s], { managedIqnPrefix: PREFIX })).toMatchObject({ created: [{ tid: 1 }] });
    expect((await libiscsi('iscsi-inq', login(s, port))).code).toBe(0);

    const exits: TgtdExitInfo[] = [];
    sup.onExit((info) => exits.push(info));
    const oldPid = sup.pid!;
    process.kill(oldPid, 'SIGKILL');
    await waitFor(() => exits.length > 0, 5000, 'the exit event');
    expect(exits[0]).toEqual({ pid: oldPid, code: null, signal: 'SIGKILL', expected: false });
    expect(sup.isRunning()).toBe(false);
    await expect(sup.adapter.showTargets()).rejects.toMatchObject({ code: TgtErrorCode.DAEMON_UNREACHABLE });

    await sup.start();
    expect(sup.pid).not.toBe(oldPid);
    expect(await sup.adapter.showTargets()).toEqual([]); // tgtd keeps no state
    const report = await exporter.reconcile([s], { managedIqnPrefix: PREFIX });
    expect(report).toMatchObject({ created: [{ tid: 1, iqn: s.iqn }], failed: [] });
    const inq = await libiscsi('iscsi-inq', login(s, port));
    expect(inq.code).toBe(0);
    expect(inq.stdout).toMatch(/Product:DISKLESS\b/);
  });

  it('stop() removes targets with live sessions, ends tgtd without SIGKILL and is idempotent', async () => {
    const { sup, port, controlPort, warnings } = await newSupervisor(12);
    await sup.start();
    await sup.start(); // no-op while running
    const exporter = new TgtExporter({ adapter: sup.adapter });
    const s = exportSpec(2);
    await exporter.ensureExport(s);
    const holder = SessionHolder.start(login(s, port));
    holders.push(holder);
    try {
      await waitFor(async () => (await exporter.sessions())[0]?.sessions.length, 15_000, 'a session');
      const pid = sup.pid!;
      const exited = once(sup, 'exit') as Promise<[TgtdExitInfo]>;
      await Promise.all([sup.stop(), sup.stop()]);
      const [info] = await exited;
      expect(info).toMatchObject({ pid, expected: true, signal: null, code: 0 });
      expect(warnings.filter((w) => w.includes('SIGKILL'))).toEqual([]);
      expect(sup.isRunning()).toBe(false);
      expect(await tgtdPidsFor(controlPort)).toEqual([]);
      expect(existsSync(`/var/run/tgtd/socket.${controlPort}`)).toBe(false);
      await sup.stop();
    } finally {
      holder.kill();
    }
  });

  it('fails start with DAEMON_START_FAILED when the portal is taken, and leaves no tgtd behind', async () => {
    const { sup, port, controlPort } = await newSupervisor(13);
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, LOOPBACK, r));
    try {
      const err = await sup.start().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: TgtErrorCode.DAEMON_START_FAILED });
      expect(String((err as Error).message)).toContain(`${LOOPBACK}:${port}`);
      expect(sup.isRunning()).toBe(false);
      await waitFor(async () => (await tgtdPidsFor(controlPort)).length === 0, 5000, 'tgtd to exit');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('attaches to an already-running tgtd and leaves it running on stop()', async () => {
    const { sup: owner, controlPort, port } = await newSupervisor(14);
    await owner.start();
    const { sup: guest } = await newSupervisor(0, { port, controlPort, startTimeoutMs: 5000 });
    await guest.start();
    expect(guest.isRunning()).toBe(true);
    expect(guest.pid).toBeUndefined();
    expect(await guest.adapter.showTargets()).toEqual([]);
    await guest.stop();
    expect(owner.isRunning()).toBe(true);
    expect(await tgtdPidsFor(controlPort)).toEqual([owner.pid]);
    await owner.stop();
    const { sup: orphanGuest } = await newSupervisor(0, { port, controlPort, startTimeoutMs: 500 });
    await expect(orphanGuest.start()).rejects.toMatchObject({ code: TgtErrorCode.DAEMON_START_FAILED });
  });
});
