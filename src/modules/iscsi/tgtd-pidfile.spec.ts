import { ProcFacts, decideTgtdPidFile, isOurTgtd, parsePidFile } from './tgtd-pidfile';

const CP = 213;
const SELF = 4242;
const live = (cmdline: string[]): ProcFacts => ({ exists: true, zombie: false, cmdline });
const ourTgtd = live(['tgtd', '-f', '-C', String(CP), '--iscsi', 'portal=127.0.0.1:3260']);
const decide = (text: string | undefined, facts?: ProcFacts, binaryNames?: string[]) =>
  decideTgtdPidFile({ text, facts, controlPort: CP, selfPid: SELF, binaryNames });

describe('tgtd pid file decision', () => {
  it('does nothing without a pid file', () => {
    expect(decide(undefined)).toEqual({ action: 'none' });
  });

  it('replaces a live tgtd on our control port', () => {
    expect(decide('1234\n', ourTgtd)).toEqual({ action: 'replace', pid: 1234 });
    expect(decide('1234', live(['/usr/sbin/tgtd', '-f', `--control-port=${CP}`]))).toEqual({ action: 'replace', pid: 1234 });
    expect(decide('1234', live(['/opt/tgt/my-tgtd', '-C', String(CP)]), ['tgtd', 'my-tgtd'])).toEqual({ action: 'replace', pid: 1234 });
  });

  it('drops the file when the pid is dead or a zombie, without killing', () => {
    expect(decide('1234', { exists: false, zombie: false, cmdline: [] })).toMatchObject({ action: 'remove-stale', pid: 1234 });
    expect(decide('1234', undefined)).toMatchObject({ action: 'remove-stale', reason: 'pid 1234 is not running' });
    expect(decide('1234', { exists: true, zombie: true, cmdline: [] })).toMatchObject({ action: 'remove-stale' });
  });

  it.each([
    ['another program (pid reused)', ['/usr/bin/vim', 'notes.txt']],
    ['a tgtd on another control port', ['tgtd', '-f', '-C', '214']],
    ['the system tgtd (control port 0)', ['/usr/sbin/tgtd', '-f']],
    ['a program that only mentions tgtd', ['/bin/sh', '-c', 'tgtd -C 213']],
    ['a kernel thread (empty cmdline)', []],
  ])('never kills %s', (_what, cmdline) => {
    const d = decide('1234', live(cmdline));
    expect(d.action).toBe('remove-stale');
  });

  it.each(['', 'garbage', '-5', '0', '1', '12 34', '99999999', '1234abc', '0x10'])('drops unparseable contents %j', (text) => {
    expect(decide(text, ourTgtd)).toMatchObject({ action: 'remove-stale', reason: 'it does not hold a pid' });
  });

  it('never treats its own pid as a leftover', () => {
    expect(decide(String(SELF), ourTgtd)).toMatchObject({ action: 'remove-stale', pid: SELF });
  });
});

describe('parsePidFile / isOurTgtd', () => {
  it('parses one pid with surrounding whitespace only', () => {
    expect(parsePidFile(' 77 \n')).toBe(77);
    expect(parsePidFile('77\n78\n')).toBeUndefined();
  });

  it('needs -C followed by exactly our port', () => {
    expect(isOurTgtd(['tgtd', '-C'], CP)).toBe(false);
    expect(isOurTgtd(['tgtd', '-C', '2130'], CP)).toBe(false);
    expect(isOurTgtd(['tgtd', `-C${CP}`], CP)).toBe(true);
    expect(isOurTgtd(['tgtdx', '-C', String(CP)], CP)).toBe(false);
  });
});
