import { enableLinkLocalIpv6, hasUsableLinkLocal, Ipv6Sysctl, parseIfInet6, ProcFiles, waitForLinkLocal } from './ipv6-link-local';

const ROOT = '/proc/sys/net/ipv6/conf';

/** An in-memory /proc: `values` by path; writes are recorded; `refuse` makes writes fail with that errno code. */
function fakeProc(values: Record<string, string>, refuse?: string) {
  const writes: string[] = [];
  const files: ProcFiles = {
    read: (path) => {
      if (!(path in values)) return Promise.reject(Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' }));
      return Promise.resolve(`${values[path]}\n`);
    },
    write: (path, value) => {
      if (refuse) return Promise.reject(Object.assign(new Error(`${refuse}: ${path}`), { code: refuse }));
      writes.push(`${path.slice(ROOT.length + 1)}=${value.trim()}`);
      values[path] = value.trim();
      return Promise.resolve();
    },
  };
  return { files, writes, values };
}

const conf = (ifname: string, v: Partial<Record<'disable_ipv6' | 'accept_ra' | 'forwarding' | 'addr_gen_mode', number>>) =>
  Object.fromEntries(Object.entries(v).map(([k, n]) => [`${ROOT}/${ifname}/${k}`, String(n)]));

describe('enableLinkLocalIpv6', () => {
  const linkLocalAppears = () => Promise.resolve(true);

  it('changes nothing where IPv6 is already on and waits for the link-local address', async () => {
    const proc = fakeProc(conf('br0', { disable_ipv6: 0, accept_ra: 1, forwarding: 0 }));
    const waited: string[] = [];
    const result = await enableLinkLocalIpv6('br0', {
      mayChange: true,
      sysctl: new Ipv6Sysctl(proc.files),
      waitLinkLocal: (name) => (waited.push(name), Promise.resolve(true)),
    });
    expect(result).toEqual({ ready: true, ipv6On: true, changed: [] });
    expect(proc.writes).toEqual([]);
    expect(waited).toEqual(['br0']);
  });

  it('turns IPv6 on link-local only: accept_ra and forwarding off first, then disable_ipv6=0', async () => {
    const proc = fakeProc(conf('br-x', { disable_ipv6: 1, accept_ra: 1, forwarding: 1, addr_gen_mode: 0 }));
    const result = await enableLinkLocalIpv6('br-x', { mayChange: true, sysctl: new Ipv6Sysctl(proc.files), waitLinkLocal: linkLocalAppears });
    expect(result).toEqual({ ready: true, ipv6On: true, changed: ['accept_ra=0', 'forwarding=0', 'disable_ipv6=0'] });
    expect(proc.writes).toEqual(['br-x/accept_ra=0', 'br-x/forwarding=0', 'br-x/disable_ipv6=0']);
  });

  it('sets addr_gen_mode=0 when it was 1 (no link-local would be generated)', async () => {
    const proc = fakeProc(conf('eth1', { disable_ipv6: 1, accept_ra: 0, forwarding: 0, addr_gen_mode: 1 }));
    const result = await enableLinkLocalIpv6('eth1', { mayChange: true, sysctl: new Ipv6Sysctl(proc.files), waitLinkLocal: linkLocalAppears });
    expect(result.changed).toEqual(['addr_gen_mode=0', 'disable_ipv6=0']);
  });

  it('with the opt-out, writes nothing and explains the cost and the fix', async () => {
    const proc = fakeProc(conf('br0', { disable_ipv6: 1, accept_ra: 1, forwarding: 0 }));
    const result = await enableLinkLocalIpv6('br0', { mayChange: false, sysctl: new Ipv6Sysctl(proc.files), waitLinkLocal: linkLocalAppears });
    expect(proc.writes).toEqual([]);
    expect(result).toMatchObject({ ready: false, ipv6On: false });
    expect(result.problem).toContain('IPv6 is disabled on br0 and DLS_IPV6_ENABLE=false');
    expect(result.problem).toContain('iPXE will wait ~15 s');
    expect(result.problem).toContain('echo 0 > /proc/sys/net/ipv6/conf/br0/disable_ipv6');
  });

  it.each(['EACCES', 'EPERM', 'EROFS'])('reports a refused write (%s) instead of throwing', async (code) => {
    const proc = fakeProc(conf('br0', { disable_ipv6: 1, accept_ra: 0, forwarding: 0 }), code);
    const result = await enableLinkLocalIpv6('br0', { mayChange: true, sysctl: new Ipv6Sysctl(proc.files), waitLinkLocal: linkLocalAppears });
    expect(result.ready).toBe(false);
    expect(result.problem).toContain(`DLS cannot enable it (${code})`);
    expect(result.problem).toContain('iPXE will wait ~15 s');
  });

  it('reports a kernel without IPv6 (no /proc/sys/net/ipv6)', async () => {
    const proc = fakeProc({});
    const result = await enableLinkLocalIpv6('br0', { mayChange: true, sysctl: new Ipv6Sysctl(proc.files), waitLinkLocal: linkLocalAppears });
    expect(result.ready).toBe(false);
    expect(result.problem).toContain('IPv6 is not available');
  });

  it('is not ready while no link-local address shows up in time', async () => {
    const proc = fakeProc(conf('br0', { disable_ipv6: 1, accept_ra: 0, forwarding: 0 }));
    const result = await enableLinkLocalIpv6('br0', {
      mayChange: true,
      sysctl: new Ipv6Sysctl(proc.files),
      waitLinkLocal: () => Promise.resolve(false),
    });
    expect(result).toMatchObject({ ready: false, ipv6On: true, changed: ['disable_ipv6=0'] });
    expect(result.problem).toContain('no usable IPv6 link-local address on br0');
  });

  it('refuses a path-unsafe interface name before touching /proc', async () => {
    const proc = fakeProc({});
    await expect(enableLinkLocalIpv6('../all', { mayChange: true, sysctl: new Ipv6Sysctl(proc.files) })).rejects.toThrow();
    expect(() => new Ipv6Sysctl(proc.files).path('..', 'disable_ipv6')).toThrow();
  });
});

describe('/proc/net/if_inet6', () => {
  const text = [
    '00000000000000000000000000000001 01 80 10 80       lo',
    'fe80000000000000021122fffe334455 03 40 20 c0     br-a', // tentative
    'fe80000000000000021122fffe334466 04 40 20 88     br-b', // dadfailed
    'fe80000000000000021122fffe334477 05 40 20 80     br-c',
    'fd000000000000000000000000000001 06 40 00 80     br-d', // global only
  ].join('\n');

  it('parses the entries', () => {
    expect(parseIfInet6(text)[1]).toEqual({ address: 'fe80000000000000021122fffe334455', scope: 0x20, flags: 0xc0, ifname: 'br-a' });
  });

  it('counts only a link-local address that passed DAD', () => {
    const entries = parseIfInet6(text);
    expect(['br-a', 'br-b', 'br-c', 'br-d', 'lo'].map((n) => hasUsableLinkLocal(entries, n))).toEqual([false, false, true, false, false]);
  });

  it('waitForLinkLocal resolves when the address passes DAD, and false after its timeout', async () => {
    let reads = 0;
    const files: ProcFiles = {
      read: () => Promise.resolve(++reads < 3 ? text : text.replace('20 c0     br-a', '20 80     br-a')),
      write: () => Promise.resolve(),
    };
    await expect(waitForLinkLocal('br-a', 2000, files)).resolves.toBe(true);
    expect(reads).toBe(3);
    await expect(waitForLinkLocal('br-b', 120, files)).resolves.toBe(false);
  });
});
