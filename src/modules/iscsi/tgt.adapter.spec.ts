import { CommandResult, CommandRunner } from '@common/exec/command-runner';
import { TgtAdmAdapter, redactArgv } from './tgt.adapter';
import { TgtError, TgtErrorCode, mapTgtadmFailure } from './tgt.errors';

const ok = (stdout = ''): CommandResult => ({ code: 0, signal: null, stdout, stderr: '', timedOut: false });
const fail = (stderr: string, code = 22): CommandResult => ({
  code,
  signal: null,
  stdout: '',
  stderr,
  timedOut: false,
});

/**
 * A fake CommandRunner that records every call and answers from a queue (default: success). An Error in the queue
 * is a binary that cannot be started: the runner rejects with it, as spawnCommand does.
 */
function fakeExec(answers: Array<CommandResult | Error> = []) {
  const calls: Array<{ file: string; args: string[]; timeoutMs: number }> = [];
  const exec: CommandRunner = async (file, args, { timeoutMs }) => {
    calls.push({ file, args: [...args], timeoutMs });
    const answer = answers.shift() ?? ok();
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { exec, calls };
}

const IQN = 'iqn.2025-01.lab.dls:pc001';
/** Splits an argv written as one line (no value in these tables contains a space). */
const w = (line: string): string[] => line.split(' ');

describe('TgtAdmAdapter argv building', () => {
  const build = () => {
    const f = fakeExec();
    const tgt = new TgtAdmAdapter({ controlPort: 4321, binary: '/usr/sbin/tgtadm', timeoutMs: 1234, runner: f.exec });
    return { ...f, tgt };
  };
  const prefix = ['-C', '4321', '--lld', 'iscsi'];

  it.each<[string, (a: TgtAdmAdapter) => Promise<unknown>, string[]]>([
    ['newTarget', (a) => a.newTarget(3, IQN), w(`--mode target --op new --tid 3 --targetname ${IQN}`)],
    ['deleteTarget', (a) => a.deleteTarget(3), w(`--mode target --op delete --tid 3`)],
    ['deleteTarget force', (a) => a.deleteTarget(3, { force: true }), w(`--mode target --op delete --force --tid 3`)],
    ['setTargetState', (a) => a.setTargetState(3, 'offline'), w(`--mode target --op update --tid 3 --name state --value offline`)],
    ['setTargetParam', (a) => a.setTargetParam(3, 'nop_interval', 5), w(`--mode target --op update --tid 3 --name nop_interval --value 5`)],
    [
      'newLun',
      (a) => a.newLun(3, 1, '/srv/dls/clients/pc001/disk.raw', { bstype: 'aio' }),
      w(`--mode logicalunit --op new --tid 3 --lun 1 --backing-store /srv/dls/clients/pc001/disk.raw --bstype aio`),
    ],
    [
      'newLun O_DIRECT',
      (a) => a.newLun(3, 1, '/srv/dls/clients/pc001/disk.raw', { bstype: 'rdwr', direct: true }),
      w(`--mode logicalunit --op new --tid 3 --lun 1 --backing-store /srv/dls/clients/pc001/disk.raw --bstype rdwr --bsoflags direct`),
    ],
    ['deleteLun', (a) => a.deleteLun(3, 2), w(`--mode logicalunit --op delete --tid 3 --lun 2`)],
    [
      'updateLun',
      (a) =>
        a.updateLun(3, 1, {
          lbppbe: '3',
          scsi_sn: 'DLS-PC001',
          scsi_id: 'dls-pc001',
          vendor_id: 'DLS',
          product_id: 'DISKLESS',
        }),
      w(
        '--mode logicalunit --op update --tid 3 --lun 1 ' + '--params lbppbe=3,scsi_sn=DLS-PC001,scsi_id=dls-pc001,vendor_id=DLS,product_id=DISKLESS',
      ),
    ],
    [
      'bindInitiatorName',
      (a) => a.bindInitiatorName(3, 'iqn.1991-05.com.microsoft:pc001'),
      w(`--mode target --op bind --tid 3 --initiator-name iqn.1991-05.com.microsoft:pc001`),
    ],
    [
      'unbindInitiatorName',
      (a) => a.unbindInitiatorName(3, 'eui.02004567A425678D'),
      w(`--mode target --op unbind --tid 3 --initiator-name eui.02004567A425678D`),
    ],
    ['bindInitiatorAddress', (a) => a.bindInitiatorAddress(3, 'ALL'), w(`--mode target --op bind --tid 3 --initiator-address ALL`)],
    [
      'unbindInitiatorAddress',
      (a) => a.unbindInitiatorAddress(3, '10.0.0.0/8'),
      w(`--mode target --op unbind --tid 3 --initiator-address 10.0.0.0/8`),
    ],
    ['newAccount', (a) => a.newAccount('pc001', 'S3cretPass12'), w(`--mode account --op new --user pc001 --password S3cretPass12`)],
    ['deleteAccount', (a) => a.deleteAccount('pc001'), w(`--mode account --op delete --user pc001`)],
    ['bindAccount', (a) => a.bindAccount(3, 'pc001'), w(`--mode account --op bind --tid 3 --user pc001`)],
    ['bindAccount outgoing', (a) => a.bindAccount(3, 'tgt1', { outgoing: true }), w(`--mode account --op bind --tid 3 --user tgt1 --outgoing`)],
    ['unbindAccount', (a) => a.unbindAccount(3, 'pc001'), w(`--mode account --op unbind --tid 3 --user pc001`)],
    ['deleteConnection', (a) => a.deleteConnection(3, 17, 0), w(`--mode conn --op delete --tid 3 --sid 17 --cid 0`)],
    ['showConnections', (a) => a.showConnections(3), w(`--mode conn --op show --tid 3`)],
    ['showTargets', (a) => a.showTargets(), w(`--mode target --op show`)],
    ['listAccounts', (a) => a.listAccounts(), w(`--mode account --op show`)],
    ['showSystem', (a) => a.showSystem(), w(`--mode sys --op show`)],
    ['deleteSystem', (a) => a.deleteSystem(), w(`--mode sys --op delete`)],
  ])('%s', async (_name, call, expected) => {
    const { tgt, calls } = build();
    await call(tgt);
    expect(calls).toEqual([{ file: '/usr/sbin/tgtadm', args: [...prefix, ...expected], timeoutMs: 1234 }]);
  });

  it('parses show output', async () => {
    const { exec } = fakeExec([
      ok('Target 1: iqn.2025-01.lab.dls:pc001\n    System information:\n        State: ready\n'),
      ok('Account list:\n    pc001\n'),
    ]);
    const tgt = new TgtAdmAdapter({ controlPort: 1, runner: exec });
    expect((await tgt.showTargets())[0]).toMatchObject({ tid: 1, iqn: 'iqn.2025-01.lab.dls:pc001', state: 'ready' });
    expect(await tgt.listAccounts()).toEqual(['pc001']);
  });
});

describe('TgtAdmAdapter validation (rejected before any exec)', () => {
  const cases: Array<[string, (a: TgtAdmAdapter) => Promise<unknown>]> = [
    ['IQN with a space', (a) => a.newTarget(1, 'iqn.2025-01.lab.dls:pc 001')],
    ['IQN with upper case', (a) => a.newTarget(1, 'iqn.2025-01.lab.DLS:pc001')],
    ['IQN with ;', (a) => a.newTarget(1, 'iqn.2025-01.lab.dls:pc001;reboot')],
    ['IQN with a bad month', (a) => a.newTarget(1, 'iqn.2025-13.lab.dls:pc001')],
    ['IQN longer than 223 bytes', (a) => a.newTarget(1, `iqn.2025-01.lab.dls:${'a'.repeat(210)}`)],
    ['tid 0', (a) => a.newTarget(0, IQN)],
    ['fractional tid', (a) => a.deleteTarget(1.5)],
    ['LUN 0', (a) => a.newLun(1, 0, '/srv/a.raw')],
    ['relative path', (a) => a.newLun(1, 1, 'srv/a.raw')],
    ['path with ..', (a) => a.newLun(1, 1, '/srv/../etc/shadow')],
    ['path with a comma (params injection)', (a) => a.newLun(1, 1, '/srv/a.raw,bstype=sg')],
    ['path with a newline', (a) => a.newLun(1, 1, '/srv/a\n.raw')],
    ['path with a space', (a) => a.newLun(1, 1, '/srv/a b.raw')],
    ['bad bstype', (a) => a.newLun(1, 1, '/srv/a.raw', { bstype: 'sg' as never })],
    ['unknown LUN param', (a) => a.updateLun(1, 1, { path: '/etc/shadow' })],
    ['LUN param value with a comma', (a) => a.updateLun(1, 1, { scsi_sn: 'a,readonly=1' })],
    ['vendor_id longer than 8', (a) => a.updateLun(1, 1, { vendor_id: 'ABCDEFGHI' })],
    ['no LUN params', (a) => a.updateLun(1, 1, {})],
    ['unknown target param', (a) => a.setTargetParam(1, 'MaxRecvDataSegmentLength', '1')],
    ['bad state', (a) => a.setTargetState(1, 'gone' as never)],
    ['secret too short', (a) => a.newAccount('pc001', 'short12345')],
    ['secret too long', (a) => a.newAccount('pc001', 'S3cretPass1234567')],
    ['secret with a symbol', (a) => a.newAccount('pc001', 'S3cret-Pass12')],
    ['user with a space', (a) => a.newAccount('pc 001', 'S3cretPass12')],
    ['user starting with -', (a) => a.deleteAccount('--force')],
    ['user too long', (a) => a.bindAccount(1, 'u'.repeat(65))],
    ['bad initiator address', (a) => a.bindInitiatorAddress(1, '127.0.0.1; rm')],
    ['bad prefix', (a) => a.bindInitiatorAddress(1, '10.0.0.0/33')],
    ['negative sid', (a) => a.deleteConnection(1, -1, 0)],
  ];

  it.each(cases)('rejects %s', async (_name, call) => {
    const { exec, calls } = fakeExec();
    const tgt = new TgtAdmAdapter({ controlPort: 1, runner: exec });
    await expect(call(tgt)).rejects.toMatchObject({ code: TgtErrorCode.INVALID_ARGUMENT });
    expect(calls).toHaveLength(0);
  });

  it('never echoes a rejected secret', async () => {
    const tgt = new TgtAdmAdapter({ controlPort: 1, runner: fakeExec().exec });
    const err = await tgt.newAccount('pc001', 'tooshort').catch((e: TgtError) => e);
    expect(String((err as TgtError).message)).not.toContain('tooshort');
  });

  it('rejects a bad control port at construction', () => {
    expect(() => new TgtAdmAdapter({ controlPort: -1 })).toThrow(TgtError);
  });
});

describe('TgtAdmAdapter errors', () => {
  it('maps tgtadm stderr to a typed error with redacted argv', async () => {
    const { exec } = fakeExec([fail('tgtadm: this account already exists\n')]);
    const tgt = new TgtAdmAdapter({ controlPort: 9, runner: exec });
    const err = (await tgt.newAccount('pc001', 'S3cretPass12').catch((e: unknown) => e)) as TgtError;
    expect(err).toBeInstanceOf(TgtError);
    expect(err.code).toBe(TgtErrorCode.ACCOUNT_EXISTS);
    expect(err.exitCode).toBe(22);
    expect(err.stderr).toBe('tgtadm: this account already exists');
    expect(err.argv).toContain('<redacted>');
    expect(err.argv).not.toContain('S3cretPass12');
    expect(err.message).not.toContain('S3cretPass12');
  });

  it('maps a timeout and a missing binary', async () => {
    const { exec } = fakeExec([
      { code: null, signal: 'SIGKILL', stdout: '', stderr: '', timedOut: true },
      Object.assign(new Error('spawn tgtadm ENOENT'), { code: 'ENOENT' }),
    ]);
    const tgt = new TgtAdmAdapter({ controlPort: 9, runner: exec });
    await expect(tgt.showTargets()).rejects.toMatchObject({ code: TgtErrorCode.TIMEOUT });
    await expect(tgt.showTargets()).rejects.toMatchObject({ code: TgtErrorCode.UNKNOWN });
  });

  it('runs mutations one at a time in FIFO order; reads are not queued', async () => {
    const log: string[] = [];
    const releases: Array<() => void> = [];
    const exec: CommandRunner = (_file, args) => {
      const op = `${args[5]}:${args[7]}`;
      log.push(`start ${op}`);
      if (op === 'target:show') return Promise.resolve(ok());
      return new Promise((resolve) => releases.push(() => (log.push(`end ${op}`), resolve(ok()))));
    };
    const tgt = new TgtAdmAdapter({ controlPort: 1, runner: exec });
    const p1 = tgt.newTarget(1, IQN);
    const p2 = tgt.deleteTarget(2);
    await new Promise((r) => setImmediate(r));
    await tgt.showTargets();
    expect(log).toEqual(['start target:new', 'start target:show']);
    releases.shift()!();
    await p1;
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['start target:new', 'start target:show', 'end target:new', 'start target:delete']);
    releases.shift()!();
    await p2;
  });

  it('keeps the queue going after a failed mutation', async () => {
    const { exec, calls } = fakeExec([fail('tgtadm: this target already exists'), ok()]);
    const tgt = new TgtAdmAdapter({ controlPort: 1, runner: exec });
    const [a, b] = await Promise.allSettled([tgt.newTarget(1, IQN), tgt.newTarget(2, 'iqn.2025-01.lab.dls:pc002')]);
    expect(a.status).toBe('rejected');
    expect(b.status).toBe('fulfilled');
    expect(calls).toHaveLength(2);
  });
});

describe('mapTgtadmFailure', () => {
  const argv = ['-C', '1', '--lld', 'iscsi'];
  it.each([
    ['tgtadm: this target already exists', TgtErrorCode.TARGET_EXISTS],
    ["tgtadm: can't find the target", TgtErrorCode.TARGET_NOT_FOUND],
    ['tgtadm: this logical unit number already exists', TgtErrorCode.LUN_EXISTS],
    ["tgtadm: can't find the logical unit", TgtErrorCode.LUN_NOT_FOUND],
    ['tgtadm: invalid request', TgtErrorCode.INVALID_REQUEST],
    ["tgtadm: -s argument value '' invalid", TgtErrorCode.INVALID_REQUEST],
    ['tgtadm: this access control rule already exists', TgtErrorCode.ACL_EXISTS],
    ['tgtadm: this access control rule does not exist', TgtErrorCode.ACL_NOT_FOUND],
    ['tgtadm: this account already exists', TgtErrorCode.ACCOUNT_EXISTS],
    ["tgtadm: can't find the account", TgtErrorCode.ACCOUNT_NOT_FOUND],
    ['tgtadm: this target is still active', TgtErrorCode.TARGET_ACTIVE],
    ['tgtadm: this logical unit is still active', TgtErrorCode.LUN_ACTIVE],
    ["tgtadm: can't find the session", TgtErrorCode.SESSION_NOT_FOUND],
    ['tgtadm: something new', TgtErrorCode.UNKNOWN],
  ])('exit 22 "%s" → %s', (stderr, code) => {
    const err = mapTgtadmFailure({ argv, exitCode: 22, signal: null, stderr });
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(22);
    expect(err.argv).toEqual(argv);
  });

  it('exit 107 → DAEMON_UNREACHABLE', () => {
    const stderr = 'tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected';
    expect(mapTgtadmFailure({ argv, exitCode: 107, signal: null, stderr }).code).toBe(TgtErrorCode.DAEMON_UNREACHABLE);
    const silent = mapTgtadmFailure({ argv, exitCode: 107, signal: null, stderr: '' });
    expect(silent.code).toBe(TgtErrorCode.DAEMON_UNREACHABLE);
  });

  it('signal deaths are UNKNOWN and say so', () => {
    const err = mapTgtadmFailure({ argv, exitCode: null, signal: 'SIGSEGV', stderr: '' });
    expect(err.code).toBe(TgtErrorCode.UNKNOWN);
    expect(err.message).toContain('SIGSEGV');
  });

  it('redactArgv hides only the password value', () => {
    const argv = ['--user', 'u', '--password', 'S3cretPass12'];
    expect(redactArgv(argv)).toEqual(['--user', 'u', '--password', '<redacted>']);
  });
});
