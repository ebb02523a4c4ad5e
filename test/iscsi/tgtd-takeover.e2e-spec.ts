/**
 * Restart after a crash: a process running a TgtdSupervisor (with a pid file) is `kill -9`ed while its tgtd runs; the
 * tgtd survives and would block the next start ("another tgtd is using … lock"). A new supervisor on the same pid
 * file and control port replaces it, and the export re-created on the fresh tgtd answers a login. A pid file naming
 * someone else's process is dropped and that process is left alone.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportSpec, TgtExporter } from '../../src/modules/iscsi/tgt-exporter';
import { TgtdSupervisor } from '../../src/modules/iscsi/tgtd.supervisor';
import { readProcFacts } from '../../src/modules/iscsi/tgtd-pidfile';
import { LOOPBACK, Login, libiscsi, pickControlPort, pickPortalPort, tgtdPidsFor, waitFor } from './iscsi-test-helpers';

const PREFIX = 'iqn.2025-01.lab.dls.takeover:';
let dir: string;
const supervisors: TgtdSupervisor[] = [];
const children: ChildProcess[] = [];
const controlPorts: number[] = [];

function spec(dir: string): ExportSpec {
  return {
    tid: 1,
    iqn: `${PREFIX}pc1`,
    backingPath: join(dir, 'pc1.raw'),
    chapUser: 'takeover-pc1',
    chapSecret: 'Tak3overSecret01',
    initiatorName: `${PREFIX}client1`,
    serial: 'DLS-TAKEOVER-1',
  };
}
const login = (s: ExportSpec, port: number): Login => ({ port, iqn: s.iqn, user: s.chapUser, secret: s.chapSecret, initiator: s.initiatorName });

/** Running and not a zombie (an orphaned tgtd may stay a zombie here when the container's init does not reap). */
async function alive(pid: number): Promise<boolean> {
  const f = await readProcFacts(pid);
  return f.exists && !f.zombie;
}

/** Runs test/iscsi/fixtures/supervisor-child.ts and resolves with its pid and its tgtd's pid once it is ready. */
async function startChildSupervisor(controlPort: number, port: number, pidFile: string, s: ExportSpec) {
  const child = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'tsconfig-paths/register',
      join(__dirname, 'fixtures', 'supervisor-child.ts'),
      String(controlPort),
      String(port),
      pidFile,
      JSON.stringify(s),
    ],
    { cwd: join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const tgtdPid = await waitFor(() => Number(/READY (\d+)/.exec(out)?.[1] ?? 0), 60_000, `the child supervisor (${out})`);
  return { child, tgtdPid };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), `dls-tgtd-takeover-${process.pid}-`));
  await writeFile(join(dir, 'pc1.raw'), '');
  await truncate(join(dir, 'pc1.raw'), 16 * 1024 * 1024);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of supervisors.reverse()) await s.stop().catch(() => undefined);
  for (const cp of controlPorts) for (const pid of await tgtdPidsFor(cp)) process.kill(pid, 'SIGKILL'); // only ours (-C cp)
  await rm(dir, { recursive: true, force: true });
});

describe('tgtd takeover after a crash (real tgtd)', () => {
  it('a new supervisor replaces the tgtd a kill -9ed one left, and the re-created export logs in', async () => {
    const controlPort = pickControlPort(31);
    const port = await pickPortalPort(31);
    controlPorts.push(controlPort);
    const pidFile = join(dir, 'tgtd.pid');
    const s = spec(dir);
    const { child, tgtdPid: oldPid } = await startChildSupervisor(controlPort, port, pidFile, s);
    expect((await readFile(pidFile, 'utf8')).trim()).toBe(String(oldPid));
    expect((await libiscsi('iscsi-inq', login(s, port))).code).toBe(0);

    child.kill('SIGKILL'); // the crash
    await waitFor(() => child.signalCode === 'SIGKILL', 5000, 'the child to die');
    expect(await tgtdPidsFor(controlPort)).toEqual([oldPid]); // tgtd outlived it, with its target

    const messages: string[] = [];
    const log = (m: string) => messages.push(m);
    const sup = new TgtdSupervisor({ controlPort, portal: { address: LOOPBACK, port }, pidFile, logger: { log, warn: log, error: log } });
    supervisors.push(sup);
    await sup.start();

    expect(await alive(oldPid)).toBe(false);
    expect(sup.pid).toBeDefined();
    expect(sup.pid).not.toBe(oldPid);
    expect(await tgtdPidsFor(controlPort)).toEqual([sup.pid]);
    expect((await readFile(pidFile, 'utf8')).trim()).toBe(String(sup.pid));
    expect(messages.filter((m) => m.includes('replaced the tgtd'))).toEqual([expect.stringContaining(`pid ${oldPid}`)]);
    expect(messages.join('\n')).toMatch(/ended by SIG(TERM|KILL)/);

    expect(await sup.adapter.showTargets()).toEqual([]); // a fresh tgtd: the owner re-creates the exports
    const exporter = new TgtExporter({ adapter: sup.adapter });
    expect(await exporter.reconcile([s], { managedIqnPrefix: PREFIX })).toMatchObject({ created: [{ tid: 1 }], failed: [] });
    const inq = await libiscsi('iscsi-inq', login(s, port));
    expect(inq.code).toBe(0);
    expect(inq.stdout).toMatch(/Product:DISKLESS\b/);

    await sup.stop();
    await expect(readFile(pidFile, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' }); // a clean stop leaves no pid file
  });

  it('drops a pid file naming another program and leaves that program running', async () => {
    const controlPort = pickControlPort(32);
    const port = await pickPortalPort(32);
    controlPorts.push(controlPort);
    const pidFile = join(dir, 'tgtd-stale.pid');
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(bystander);
    await writeFile(pidFile, `${bystander.pid}\n`);
    const messages: string[] = [];
    const log = (m: string) => messages.push(m);
    const sup = new TgtdSupervisor({ controlPort, portal: { address: LOOPBACK, port }, pidFile, logger: { log, warn: log, error: log } });
    supervisors.push(sup);
    await sup.start();
    expect(await alive(bystander.pid!)).toBe(true);
    expect(bystander.exitCode).toBeNull();
    expect(messages.filter((m) => m.includes('pid file'))).toEqual([expect.stringContaining(`pid ${bystander.pid} is not our tgtd (sleep)`)]);
    expect((await readFile(pidFile, 'utf8')).trim()).toBe(String(sup.pid));
    await sup.stop();
    bystander.kill('SIGKILL');
  });
});
