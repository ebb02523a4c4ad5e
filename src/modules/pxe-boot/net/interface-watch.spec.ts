import { InterfaceState, InterfaceWatch, probeInterface, stateKey } from './interface-watch';

describe('probeInterface', () => {
  it('finds loopback usable with its address, and a missing interface missing', () => {
    expect(probeInterface('lo')).toMatchObject({ usable: true, address: '127.0.0.1' });
    expect(probeInterface(`dlsnope${process.pid % 10000}`)).toEqual({ usable: false, reason: 'missing' });
  });

  it('uses the fallback address only for an existing interface without IPv4', () => {
    expect(probeInterface(`dlsnope${process.pid % 10000}`, '10.0.0.1')).toEqual({ usable: false, reason: 'missing' });
  });
});

describe('InterfaceWatch', () => {
  const up = (index: number, address: string): InterfaceState => ({ usable: true, index, address });
  const missing: InterfaceState = { usable: false, reason: 'missing' };

  /** A watch over a fake kernel whose interfaces the test changes. */
  function setup() {
    const kernel = new Map<string, InterfaceState>();
    const calls: string[][] = [];
    const watch = new InterfaceWatch({
      probe: (name) => kernel.get(name) ?? missing,
      onChange: (names) => void calls.push(names),
      intervalMs: 1000,
    });
    return { kernel, calls, watch };
  }

  it('reports an interface that appears, once, and then when it goes away', async () => {
    const { kernel, calls, watch } = setup();
    watch.expect(new Map([['br-x', missing]]));
    expect(await watch.check()).toEqual([]);
    kernel.set('br-x', up(7, '10.0.0.1'));
    expect(await watch.check()).toEqual(['br-x']);
    expect(await watch.check()).toEqual([]);
    kernel.delete('br-x');
    expect(await watch.check()).toEqual(['br-x']);
    expect(calls).toEqual([['br-x'], ['br-x']]);
  });

  it('sees a re-created interface (new index) and a new address as changes', async () => {
    const { kernel, watch } = setup();
    kernel.set('br-x', up(7, '10.0.0.1'));
    watch.expect(new Map([['br-x', up(7, '10.0.0.1')]]));
    kernel.set('br-x', up(9, '10.0.0.1'));
    expect(await watch.check()).toEqual(['br-x']);
    kernel.set('br-x', up(9, '10.0.0.2'));
    expect(await watch.check()).toEqual(['br-x']);
    kernel.set('br-x', { usable: false, reason: 'down', index: 9 });
    expect(await watch.check()).toEqual(['br-x']);
  });

  it('calls a failing owner once per change, not every poll', async () => {
    const errors: string[] = [];
    let n = 0;
    const kernel = new Map<string, InterfaceState>();
    const watch = new InterfaceWatch({
      probe: (name) => kernel.get(name) ?? missing,
      onChange: () => {
        n++;
        throw new Error('database down');
      },
      onError: (err) => errors.push(err.message),
    });
    watch.expect(new Map([['br-x', missing]]));
    kernel.set('br-x', up(3, '10.0.0.1'));
    await watch.check();
    await watch.check();
    expect(n).toBe(1);
    expect(errors).toEqual(['database down']);
  });

  it('polls on an unref-ed timer, never two checks at once, until stopped', async () => {
    jest.useFakeTimers();
    try {
      const { kernel, calls, watch } = setup();
      watch.expect(new Map([['br-x', missing]]));
      let release!: () => void;
      const slow = new InterfaceWatch({
        probe: (name) => kernel.get(name) ?? missing,
        onChange: () => new Promise<void>((resolve) => (release = resolve)),
        intervalMs: 1000,
      });
      slow.expect(new Map([['br-x', missing]]));
      watch.start();
      slow.start();
      kernel.set('br-x', up(4, '10.0.0.1'));
      await jest.advanceTimersByTimeAsync(1000);
      expect(calls).toEqual([['br-x']]);
      // The slow owner has not returned: no further check is scheduled however long it takes.
      kernel.set('br-x', up(5, '10.0.0.1'));
      await jest.advanceTimersByTimeAsync(5000);
      expect(jest.getTimerCount()).toBe(1); // only the fast watch's next check
      release();
      await jest.advanceTimersByTimeAsync(0);
      expect(jest.getTimerCount()).toBe(2); // the slow watch's next check is scheduled only now
      watch.stop();
      slow.stop();
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('keys states by index and address, or by reason', () => {
    expect(stateKey(up(7, '10.0.0.1'))).toBe('7 10.0.0.1');
    expect(stateKey({ usable: false, reason: 'without an IPv4 address', index: 7 })).toBe('without an IPv4 address');
  });
});
