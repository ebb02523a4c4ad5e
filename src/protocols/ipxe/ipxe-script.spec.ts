import {
  ipxeValueProblem,
  ipxeBootFile,
  isBootFilePath,
  failureUrl,
  ISCSI_INITRD_NAME,
  iscsiInitrdUrl,
  ipxeCmdline,
  ipxeEchoText,
  IpxeScriptError,
  renderErrorScript,
  renderFailureRecordedScript,
  renderKernelScript,
  renderLocalBootScript,
  renderSanbootScript,
  renderUnknownClientScript,
  renderWaitingScript,
  SanbootParams,
} from './ipxe-script';

const report = { serverIp: '10.213.0.1', httpPort: 8080, mac: '52:54:00:12:34:56' };
const san: SanbootParams = {
  mac: '52:54:00:12:34:56',
  hostname: 'pc-01',
  portal: { address: '10.213.0.1', port: 3260 },
  targetIqn: 'iqn.2026-11.io.dls:client.0123abcd',
  lun: 1,
  initiatorIqn: 'iqn.2026-11.io.dls:initiator.0123abcd',
  chapUser: 'dls0123abcd',
  chapSecret: 'Secret-0123456789abcdef',
  report,
};

/** Every line of a script must be a single line and the first must be the shebang. */
function lines(s: string): string[] {
  expect(s.endsWith('\n')).toBe(true);
  const l = s.slice(0, -1).split('\n');
  expect(l[0]).toBe('#!ipxe');
  return l;
}

describe('renderSanbootScript', () => {
  it('sets the initiator name and CHAP credentials, sanboots LUN 1 and reports failures', () => {
    expect(lines(renderSanbootScript(san))).toEqual([
      '#!ipxe',
      'echo DLS: pc-01 (52:54:00:12:34:56) boots from 10.213.0.1',
      'set initiator-iqn iqn.2026-11.io.dls:initiator.0123abcd',
      'set username dls0123abcd',
      'set password Secret-0123456789abcdef',
      'sanboot iscsi:10.213.0.1:::1:iqn.2026-11.io.dls:client.0123abcd || goto failed',
      ':failed',
      'echo DLS: SAN boot failed (${errno})',
      'chain http://10.213.0.1:8080/boot/52:54:00:12:34:56/failed?stage=sanboot&err=${errno} || echo DLS: could not report the failure',
      'exit 1',
    ]);
  });

  it('puts a non-default portal port into the root path', () => {
    expect(renderSanbootScript({ ...san, portal: { address: '10.0.0.5', port: 3261 } })).toContain('sanboot iscsi:10.0.0.5::3261:1:');
  });

  it.each([
    ['targetIqn', { targetIqn: 'iqn.2026-11.io.dls:x\nchain http://evil/' }],
    ['targetIqn', { targetIqn: 'iqn.2026-11.io.dls:${net0/mac}' }],
    ['initiatorIqn', { initiatorIqn: 'iqn.2026-11.io.dls:a b' }],
    ['chapUser', { chapUser: 'u ser' }],
    ['chapSecret', { chapSecret: 'short' }],
    ['chapSecret', { chapSecret: 'abcdefghijkl${x}' }],
    ['portal.address', { portal: { address: '10.0.0.256', port: 3260 } }],
    ['portal.port', { portal: { address: '10.0.0.1', port: 0 } }],
    ['lun', { lun: -1 }],
    ['mac', { mac: '52:54:00:12:34:5G' }],
  ])('rejects a bad %s', (field, patch) => {
    expect(() => renderSanbootScript({ ...san, ...(patch as Partial<SanbootParams>) })).toThrow(IpxeScriptError);
    try {
      renderSanbootScript({ ...san, ...(patch as Partial<SanbootParams>) });
    } catch (e) {
      expect((e as IpxeScriptError).field).toBe(field);
    }
  });

  it('neutralises a hostname that tries to expand settings or add lines', () => {
    const s = renderSanbootScript({ ...san, hostname: 'x${password}\nchain http://evil/ || sanboot' });
    expect(s).not.toContain('${password}');
    expect(lines(s)).toHaveLength(10);
    expect(lines(s)[1]).toBe('echo DLS: x??password? chain http://evil/ ?? sanboot (52:54:00:12:34:56) boots from 10.213.0.1');
  });
});

describe('renderKernelScript', () => {
  it('loads kernel and initrd with the image command line followed by the client parameters', () => {
    const s = renderKernelScript({
      mac: report.mac,
      hostname: 'lx-1',
      kernel: 'http://10.213.0.1:8080/files/vmlinuz',
      initrd: 'http://10.213.0.1:8080/files/initrd.img',
      cmdline: 'console=ttyS0  quiet',
      extraCmdline: 'ip=dhcp',
      report,
    });
    expect(lines(s)).toEqual([
      '#!ipxe',
      'echo DLS: lx-1 (52:54:00:12:34:56) boots a kernel',
      'kernel http://10.213.0.1:8080/files/vmlinuz initrd=initrd.img console=ttyS0 quiet ip=dhcp || goto failed',
      'initrd --name initrd.img http://10.213.0.1:8080/files/initrd.img || goto failed',
      'boot || goto failed',
      ':failed',
      'echo DLS: kernel boot failed (${errno})',
      'chain http://10.213.0.1:8080/boot/52:54:00:12:34:56/failed?stage=kernel&err=${errno} || echo DLS: could not report the failure',
      'exit 1',
    ]);
  });

  const token = 'k9z.0123456789abcdefABCDEF';

  it('loads the per-boot iSCSI fragment as a second, named initrd with the script token; no secret on the kernel line', () => {
    const s = renderKernelScript({
      mac: report.mac,
      hostname: 'lx-1',
      kernel: 'http://10.213.0.1:8080/files/vmlinuz',
      initrd: 'http://10.213.0.1:8080/files/initramfs-6.1.img',
      cmdline: 'root=/dev/sda1 console=ttyS0',
      report: { ...report, token },
      iscsiInitrd: true,
    });
    expect(lines(s)).toEqual([
      '#!ipxe',
      'echo DLS: lx-1 (52:54:00:12:34:56) boots a kernel',
      'kernel http://10.213.0.1:8080/files/vmlinuz initrd=initramfs-6.1.img initrd=dls-iscsi.cpio root=/dev/sda1 console=ttyS0 || goto failed',
      'initrd --name initramfs-6.1.img http://10.213.0.1:8080/files/initramfs-6.1.img || goto failed',
      `initrd --name dls-iscsi.cpio http://10.213.0.1:8080/boot/52:54:00:12:34:56/iscsi.cpio?t=${token} || goto failed`,
      'boot || goto failed',
      ':failed',
      'echo DLS: kernel boot failed (${errno})',
      `chain http://10.213.0.1:8080/boot/52:54:00:12:34:56/failed?stage=kernel&err=\${errno}&t=${token} || echo DLS: could not report the failure`,
      'exit 1',
    ]);
    expect(ISCSI_INITRD_NAME).toBe('dls-iscsi.cpio');
    expect(iscsiInitrdUrl({ ...report, token })).toBe(`http://10.213.0.1:8080/boot/52:54:00:12:34:56/iscsi.cpio?t=${token}`);
    expect(iscsiInitrdUrl(report)).toBe('http://10.213.0.1:8080/boot/52:54:00:12:34:56/iscsi.cpio');
    expect(() => iscsiInitrdUrl({ ...report, token: 'x&y' })).toThrow(IpxeScriptError);
  });

  it('the fragment alone (no image initrd): one initrd, named on the kernel line', () => {
    const s = lines(renderKernelScript({ mac: report.mac, hostname: 'h', kernel: 'http://10.0.0.1/k', report, iscsiInitrd: true }));
    expect(s.filter((l) => l.startsWith('initrd '))).toEqual([
      'initrd --name dls-iscsi.cpio http://10.213.0.1:8080/boot/52:54:00:12:34:56/iscsi.cpio || goto failed',
    ]);
    expect(s).toContain('kernel http://10.0.0.1/k initrd=dls-iscsi.cpio || goto failed');
  });

  it('names an image initrd by its URL path without the query; an odd or clashing name gets a safe one', () => {
    const name = (initrd: string) =>
      lines(renderKernelScript({ mac: report.mac, hostname: 'h', kernel: 'http://10.0.0.1/k', initrd, report, iscsiInitrd: true })).find((l) =>
        l.startsWith(`initrd --name `),
      );
    expect(name('http://10.0.0.1/boot/initrd.gz?v=2')).toBe('initrd --name initrd.gz http://10.0.0.1/boot/initrd.gz?v=2 || goto failed');
    expect(name('http://10.0.0.1/')).toMatch(/^initrd --name initrd\.img /);
    expect(name('http://10.0.0.1/a/i%20x')).toMatch(/^initrd --name initrd\.img /);
    expect(name('http://10.0.0.1/dls-iscsi.cpio')).toMatch(/^initrd --name image-dls-iscsi\.cpio /);
  });

  it("a command line that names its own initrd= keeps it for the image's initrd; the fragment is still named", () => {
    const s = renderKernelScript({
      mac: report.mac,
      hostname: 'h',
      kernel: 'http://10.0.0.1/k',
      initrd: 'http://10.0.0.1/i.img',
      cmdline: 'initrd=\\EFI\\i.img quiet'.replace(/\\/g, '/'),
      report,
      iscsiInitrd: true,
    });
    expect(s).toContain('\nkernel http://10.0.0.1/k initrd=dls-iscsi.cpio initrd=/EFI/i.img quiet || goto failed\n');
  });

  it('works without initrd and command line', () => {
    const s = renderKernelScript({ mac: report.mac, hostname: 'h', kernel: 'tftp://10.0.0.1/k', report });
    expect(s).toContain('\nkernel tftp://10.0.0.1/k || goto failed\n');
    expect(s).not.toContain('initrd');
  });

  it.each([
    ['kernel', { kernel: 'file:///etc/passwd' }],
    ['kernel', { kernel: 'http://x/${net0/mac}' }],
    ['kernel', { kernel: 'http://x/a b' }],
    ['initrd', { initrd: 'http://x/"i"' }],
    ['cmdline', { cmdline: 'quiet || chain http://evil/' }],
    ['cmdline', { cmdline: 'quiet && chain http://evil/' }],
    ['cmdline', { cmdline: 'quiet ; chain http://evil/' }],
    ['cmdline', { cmdline: 'root=${root}' }],
    ['cmdline', { cmdline: 'quiet\nchain http://evil/' }],
    ['cmdline', { cmdline: 'a #comment' }],
    ['customBootParams', { extraCmdline: 'x=\\y' }],
    ['customBootParams', { extraCmdline: "x='y'" }],
    ['customBootParams', { extraCmdline: ':label' }],
  ])('rejects a bad %s', (field, patch) => {
    const base = { mac: report.mac, hostname: 'h', kernel: 'http://10.0.0.1/k', report };
    let err: unknown;
    try {
      renderKernelScript({ ...base, ...patch });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IpxeScriptError);
    expect((err as IpxeScriptError).field).toBe(field);
  });
});

describe('small scripts', () => {
  it('local boot is exit', () => {
    expect(renderLocalBootScript()).toBe('#!ipxe\nexit\n');
    expect(renderLocalBootScript('disabled')).toBe('#!ipxe\necho DLS: disabled\nexit\n');
  });

  it('waiting-for-admin echoes, sleeps and exits', () => {
    expect(lines(renderWaitingScript({ mac: report.mac, sleepSeconds: 7 }))).toEqual([
      '#!ipxe',
      'echo DLS: this machine (52:54:00:12:34:56) is registered and waits for an administrator to assign it an image.',
      'sleep 7',
      'exit',
    ]);
    expect(() => renderWaitingScript({ mac: report.mac, sleepSeconds: 1.5 })).toThrow(IpxeScriptError);
  });

  it('unknown client says nothing about images and only shows a canonical MAC', () => {
    const s = renderUnknownClientScript(report.mac);
    expect(s).toBe('#!ipxe\necho DLS: this machine (52:54:00:12:34:56) is not set up for network boot here.\nsleep 5\nexit\n');
    expect(renderUnknownClientScript('${x}\nchain')).not.toContain('$');
    expect(s.toLowerCase()).not.toContain('image');
  });

  it('error script prints a sanitised reason and exits non-zero', () => {
    expect(lines(renderErrorScript('image win11 has no published version'))).toEqual([
      '#!ipxe',
      'echo DLS: cannot boot: image win11 has no published version',
      'sleep 10',
      'exit 1',
    ]);
    expect(renderErrorScript('a\nb ${c} "d"')).toContain('echo DLS: cannot boot: a b ??c? ?d?\n');
  });

  it('failure acknowledgement sanitises its inputs', () => {
    expect(renderFailureRecordedScript('sanboot', '0x3d12603b')).toBe('#!ipxe\necho DLS: recorded the failure (stage sanboot, error 0x3d12603b)\n');
    expect(renderFailureRecordedScript('x\ny', '${a}')).toBe('#!ipxe\necho DLS: recorded the failure (stage x y, error ??a?)\n');
  });
});

describe('helpers', () => {
  it('failureUrl validates the stage', () => {
    expect(failureUrl(report, 'sanboot')).toBe('http://10.213.0.1:8080/boot/52:54:00:12:34:56/failed?stage=sanboot&err=${errno}');
    expect(() => failureUrl(report, 'a b')).toThrow(IpxeScriptError);
  });

  it('ipxeCmdline collapses whitespace', () => {
    expect(ipxeCmdline('  a=1   b  ')).toBe('a=1 b');
  });

  it('ipxeEchoText cuts long text', () => {
    expect(ipxeEchoText('x'.repeat(300), 20)).toBe(`${'x'.repeat(17)}...`);
    expect(ipxeEchoText(undefined)).toBe('');
  });
});

describe("ipxeValueProblem (write-time check with the renderer's rules)", () => {
  const base = { mac: report.mac, hostname: 'h', kernel: 'http://10.0.0.1/k', report };
  const renders = (patch: Record<string, unknown>) => {
    try {
      renderKernelScript({ ...base, ...patch });
      return true;
    } catch {
      return false;
    }
  };

  it.each([
    'http://10.0.0.1/vmlinuz',
    'tftp://10.0.0.1/k',
    'https://boot.example/k?x=1',
    'file:///etc/passwd',
    '/srv/vmlinuz',
    'http://x/${net0/mac}',
    'http://x/a b',
    'http://x/"i"',
    'http://x/\u0000',
  ])('agrees with the renderer on the kernel URL %j', (url) => {
    const problem = ipxeValueProblem('url', url, 'bootKernel');
    expect(problem === null).toBe(renders({ kernel: url }));
    if (problem) expect(problem).toMatch(/^bootKernel: /);
  });

  it.each([
    ['debian/vmlinuz', true],
    ['vmlinuz-6.1.0-amd64', true],
    ['linux/initrd.img', true],
    ['../etc/passwd', false],
    ['a/../b', false],
    ['./a', false],
    ['a/./b', false],
    ['/abs/vmlinuz', false],
    ['a//b', false],
    ['a/b/', false],
    ['a b', false],
    ['a$b', false],
  ])('takes %j as a path of the boot files root: %p', (path, ok) => {
    expect(isBootFilePath(path)).toBe(ok);
    if (ok) {
      expect(ipxeValueProblem('url', path, 'bootKernel')).toBeNull();
      expect(ipxeBootFile(path, 'http://10.0.0.1:3000/boot/files', 'kernel')).toBe(`http://10.0.0.1:3000/boot/files/${path}`);
    }
  });

  it.each([
    'quiet splash',
    'console=ttyS0,115200   quiet',
    'quiet || chain http://evil/',
    'quiet ; x',
    'root=${root}',
    'quiet\nchain http://evil/',
    'a #comment',
    "x='y'",
    'x=\\y',
    ':label',
    'a\u0000b',
    'é',
    'x'.repeat(4097),
  ])('agrees with the renderer on the command line %j', (cmdline) => {
    const problem = ipxeValueProblem('cmdline', cmdline, 'customBootParams');
    expect(problem === null).toBe(renders({ extraCmdline: cmdline }));
    if (problem) expect(problem).toMatch(/^customBootParams: /);
  });
});
