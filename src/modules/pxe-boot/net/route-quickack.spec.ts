import { CommandOptions, CommandResult, CommandRunner } from '@common/exec/command-runner';
import { parseRoute, RouteQuickAck } from './route-quickack';

describe('parseRoute', () => {
  it('keeps the destination, scope, src and metric of a connected route', () => {
    expect(parseRoute('10.213.0.0/24 scope link src 10.213.0.1 ')).toEqual(['10.213.0.0/24', 'scope', 'link', 'src', '10.213.0.1']);
    expect(parseRoute('10.0.0.0/8 scope link src 10.0.0.1 metric 100 quickack 1')).toEqual([
      '10.0.0.0/8',
      'scope',
      'link',
      'src',
      '10.0.0.1',
      'metric',
      '100',
    ]);
  });

  it('ignores blank lines, other families and anything injected', () => {
    expect(parseRoute('')).toBeNull();
    expect(parseRoute('fd00::/64 proto kernel')).toBeNull();
    expect(parseRoute('default via 10.0.0.1')).toBeNull();
    expect(parseRoute('10.0.0.0/24 src $(id) scope ;rm')).toEqual(['10.0.0.0/24']);
  });
});

describe('RouteQuickAck', () => {
  const ok = (stdout = ''): CommandResult => ({ code: 0, signal: null, stdout, stderr: '', timedOut: false });

  /** A runner that records every call and answers from `answer`. */
  function fakeRunner(answer: (args: readonly string[]) => CommandResult) {
    const calls: { file: string; args: readonly string[]; options: CommandOptions }[] = [];
    const runner: CommandRunner = (file, args, options) => {
      calls.push({ file, args, options });
      return Promise.resolve(answer(args));
    };
    return { runner, calls };
  }

  it('changes quickack on each connected route of the interface through the runner', async () => {
    const { runner, calls } = fakeRunner((args) =>
      args[2] === 'show' ? ok('10.213.0.0/24 scope link src 10.213.0.1\n10.9.0.0/16 scope link src 10.9.0.1 metric 5\n') : ok(),
    );
    expect(await new RouteQuickAck(runner).set('br-boot', true)).toBe(2);
    expect(calls.map((c) => [c.file, ...c.args])).toEqual([
      ['ip', '-4', 'route', 'show', 'dev', 'br-boot', 'proto', 'kernel'],
      ['ip', '-4', 'route', 'change', '10.213.0.0/24', 'scope', 'link', 'src', '10.213.0.1', 'dev', 'br-boot', 'proto', 'kernel', 'quickack', '1'],
      [
        'ip',
        '-4',
        'route',
        'change',
        '10.9.0.0/16',
        'scope',
        'link',
        'src',
        '10.9.0.1',
        'metric',
        '5',
        'dev',
        'br-boot',
        'proto',
        'kernel',
        'quickack',
        '1',
      ],
    ]);
    expect(calls.every((c) => c.options.timeoutMs === 5000)).toBe(true);
  });

  it('turns it back off, using the given ip binary', async () => {
    const { runner, calls } = fakeRunner((args) => (args[2] === 'show' ? ok('10.0.0.0/24 scope link src 10.0.0.1\n') : ok()));
    expect(await new RouteQuickAck(runner, '/sbin/ip').set('eth1', false)).toBe(1);
    expect(calls[1].file).toBe('/sbin/ip');
    expect(calls[1].args.slice(-2)).toEqual(['quickack', '0']);
  });

  it('rejects when ip fails or times out, naming the command and its stderr', async () => {
    const failing = fakeRunner(() => ({ code: 2, signal: null, stdout: '', stderr: 'Cannot find device "nope0"\n', timedOut: false }));
    await expect(new RouteQuickAck(failing.runner).set('nope0', true)).rejects.toThrow(
      'ip -4 route show dev nope0 proto kernel failed: Cannot find device "nope0"',
    );
    const hanging = fakeRunner((args) =>
      args[2] === 'show' ? ok('10.0.0.0/24 scope link\n') : { code: null, signal: 'SIGKILL', stdout: '', stderr: '', timedOut: true },
    );
    await expect(new RouteQuickAck(hanging.runner).set('eth1', true)).rejects.toThrow(/route change .* timed out/);
  });

  it('refuses an interface name that is not one, before running anything', async () => {
    const { runner, calls } = fakeRunner(() => ok());
    await expect(new RouteQuickAck(runner).set('eth0; rm -rf /', true)).rejects.toThrow();
    expect(calls).toHaveLength(0);
  });
});
