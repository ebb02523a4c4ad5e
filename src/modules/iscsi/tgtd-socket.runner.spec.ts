import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TgtadmErrno } from '@protocols/tgtadm/tgtadm.codec';
import { FakeTgtdSocket } from './testing/fake-tgtd-socket';
import { TgtAdmAdapter } from './tgt.adapter';
import { TgtErrorCode } from './tgt.errors';
import { tgtdSocketRunner } from './tgtd-socket.runner';

describe('tgtdSocketRunner', () => {
  let dir: string;
  let fake: FakeTgtdSocket | undefined;
  const run = (argv: string[], timeoutMs = 5_000) => tgtdSocketRunner({ socketBase: path.join(dir, 'socket') })('tgtadm', argv, { timeoutMs });

  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dls-tgtsock-'));
  });
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
    await fsp.rm(dir, { recursive: true, force: true });
  });

  async function serve(answer: ConstructorParameters<typeof FakeTgtdSocket>[1], port = 4): Promise<FakeTgtdSocket> {
    fake = new FakeTgtdSocket(path.join(dir, `socket.${port}`), answer);
    await fake.listen();
    return fake;
  }

  it('sends one request per connection to socket.<-C port> and returns the show text as stdout', async () => {
    const f = await serve(() => ({ err: 0, body: 'Target 1: iqn.2025-01.x:y\n' }));
    const r = await run(['-C', '4', '--lld', 'iscsi', '--mode', 'target', '--op', 'show']);
    expect(r).toEqual({ code: 0, signal: null, stdout: 'Target 1: iqn.2025-01.x:y\n', stderr: '', timedOut: false });
    expect(f.requests).toHaveLength(1);
    expect(f.requests[0].readInt32LE(0)).toBe(1); // MODE_TARGET
  });

  it("answers tgtd's errors as tgtadm does (exit 22, its text), so the adapter maps them to the same codes", async () => {
    await serve(() => ({ err: TgtadmErrno.TARGET_EXIST }));
    const r = await run(['-C', '4', '--lld', 'iscsi', '--mode', 'target', '--op', 'new', '--tid', '1', '--targetname', 'iqn.2025-01.x:y']);
    expect(r).toMatchObject({ code: 22, stdout: '', stderr: 'tgtadm: this target already exists\n' });
    const adapter = new TgtAdmAdapter({ controlPort: 4, runner: tgtdSocketRunner({ socketBase: path.join(dir, 'socket') }) });
    await expect(adapter.newTarget(1, 'iqn.2025-01.x:y')).rejects.toMatchObject({ code: TgtErrorCode.TARGET_EXISTS });
  });

  it('reports nobody listening as tgtadm does (exit 107 → DAEMON_UNREACHABLE), at once', async () => {
    const r = await run(['-C', '9', '--mode', 'sys', '--op', 'show']);
    expect(r.code).toBe(107);
    expect(r.stderr).toMatch(/socket\.9.*Transport endpoint is not connected/);
    const adapter = new TgtAdmAdapter({ controlPort: 9, runner: tgtdSocketRunner({ socketBase: path.join(dir, 'socket') }) });
    await expect(adapter.showSystem()).rejects.toMatchObject({ code: TgtErrorCode.DAEMON_UNREACHABLE });
  });

  it('times out a tgtd that never answers, and closes the connection', async () => {
    const f = await serve(() => ({ silent: true }));
    const t0 = Date.now();
    const r = await run(['-C', '4', '--mode', 'target', '--op', 'show'], 300);
    expect(r).toMatchObject({ code: null, timedOut: true });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(f.requests).toHaveLength(1);
    const adapter = new TgtAdmAdapter({ controlPort: 4, timeoutMs: 200, runner: tgtdSocketRunner({ socketBase: path.join(dir, 'socket') }) });
    await expect(adapter.showTargets()).rejects.toMatchObject({ code: TgtErrorCode.TIMEOUT });
  });

  it('says so when tgtd hangs up early or answers garbage, never hanging', async () => {
    const partial = Buffer.alloc(8);
    partial.writeUInt32LE(0, 0);
    partial.writeUInt32LE(100, 4);
    let answer: Parameters<typeof serve>[0] = () => ({ raw: partial });
    await serve((req) => answer!(req));
    expect(await run(['-C', '4', '--mode', 'target', '--op', 'show'])).toMatchObject({ code: 1, stderr: 'tgtadm: a partial response\n' });
    answer = () => ({ raw: Buffer.alloc(0) });
    expect(await run(['-C', '4', '--mode', 'target', '--op', 'show'])).toMatchObject({ code: 1, stderr: 'tgtadm: tgtd closed the socket\n' });
    answer = () => ({ raw: Buffer.from([0, 0, 0, 0, 3, 0, 0, 0]), end: false });
    expect(await run(['-C', '4', '--mode', 'target', '--op', 'show'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/length 3 is invalid/),
    });
  });

  it('refuses an argv tgtadm would refuse without connecting', async () => {
    const f = await serve(() => ({ err: 0 }));
    expect(await run(['-C', '4', '--mode', 'target', '--op', 'show', '--bogus', '1'])).toMatchObject({
      code: 22,
      stderr: expect.stringMatching(/unrecognized option/),
    });
    expect(f.requests).toHaveLength(0);
  });

  it('after `sys delete`, returns once tgtd has gone (its socket refuses), as tgtadm waits', async () => {
    const f = await serve(() => {
      setTimeout(() => void f.close(), 250);
      return { err: 0 };
    });
    const t0 = Date.now();
    expect(await run(['-C', '4', '--mode', 'sys', '--op', 'delete'])).toMatchObject({ code: 0 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
  });
});
