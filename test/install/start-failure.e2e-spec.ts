/**
 * Issue 9 item 14: a start that fails — a bad value, a port already taken — exits non-zero with one line saying why,
 * no stack trace, and leaves nothing running: not the embedded PostgreSQL, not tgtd.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDls, pickControlPort, repoRoot } from '../boot/dls-lab';
import { clusterDirOf, postmasterPid, removeEmbeddedPostgres } from '../support/leftovers';
import { alive, exitWithin, freeTcpPort, spawnDls, stackFrames } from './dls-process';

const MAIN = join(repoRoot(), 'dist', 'src', 'main.js');

describe('a failed start stops what it started and says why in one line', () => {
  let work: string;
  const dataDirs: string[] = [];

  beforeAll(async () => {
    await buildDls();
    work = mkdtempSync(join(tmpdir(), 'dls-start-failure-'));
  });

  afterAll(async () => {
    // Safety net for a failing assertion: what a DLS of this test left running goes by its pid.
    for (const d of dataDirs) {
      await removeEmbeddedPostgres(d);
      const tgtd = existsSync(join(d, 'tgtd.pid')) ? Number(readFileSync(join(d, 'tgtd.pid'), 'utf8').trim()) : 0;
      if (tgtd > 1 && alive(tgtd)) process.kill(tgtd, 'SIGKILL');
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a value the tgt adapter refuses (DLS_TGTD_CONTROL_PORT=39213) fails validation: exit 2, one line, nothing started', async () => {
    const dataDir = join(work, 'bad-value');
    dataDirs.push(dataDir);
    const dls = spawnDls(MAIN, { cwd: work, env: { DLS_DATA_DIR: dataDir, DLS_TGTD_CONTROL_PORT: '39213' } });
    const { code } = await exitWithin(dls, 60_000);
    const err = dls.stderr().trim();
    expect({ code, err }).toEqual({ code: 2, err: 'dls: invalid configuration: DLS_TGTD_CONTROL_PORT must be between 0 and 32767 (got "39213")' });
    expect(existsSync(join(dataDir, 'postgres'))).toBe(false);
  });

  it('the HTTP port already taken: exit 1 with the reason, embedded PostgreSQL and tgtd stopped', async () => {
    const dataDir = join(work, 'port-taken');
    dataDirs.push(dataDir);
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const dls = spawnDls(MAIN, {
        cwd: work,
        env: {
          DLS_DATA_DIR: dataDir,
          HOST: '127.0.0.1',
          PORT: String(port),
          // Private tgtd control port and portal: other tgtds (the host's, concurrent suites) use the defaults 213/3260.
          DLS_TGTD_CONTROL_PORT: String(pickControlPort()),
          DLS_ISCSI_PORTAL: `127.0.0.1:${await freeTcpPort()}`,
        },
      });
      const { code } = await exitWithin(dls, 180_000);
      const err = dls.stderr();
      expect(code).toBe(1);
      expect(err).toContain(`dls: failed to start: listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
      expect(stackFrames(err)).toEqual([]);
      // It got as far as starting both: a cluster exists (in a fallback dir: this test's work dir is mode 0700), tgtd ran.
      expect(existsSync(join(clusterDirOf(dataDir), 'data', 'PG_VERSION'))).toBe(true);
      expect(dls.stdout()).toMatch(/tgtd \(pid \d+\) ready/);
      expect(postmasterPid(clusterDirOf(dataDir))).toBeUndefined();
      const tgtdPid = Number(/tgtd \(pid (\d+)\) ready/.exec(dls.stdout())![1]);
      expect(alive(tgtdPid)).toBe(false);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
