import { GrubConfigError, grubCmdline, grubEchoText, renderGrubKernelConfig, renderGrubMessageConfig } from './grub-config';

const base = {
  mac: '52:54:00:12:34:56',
  hostname: 'pc-01',
  server: '10.0.0.1',
  kernel: 'debian/vmlinuz',
  initrd: 'debian/initrd.img',
  iscsiInitrd: 'dls/52:54:00:12:34:56/tok.abc/iscsi.cpio',
  cmdline: 'console=ttyS0 root=LABEL=dls-root rw ip=dhcp',
  extraCmdline: 'quiet',
};

describe('renderGrubKernelConfig', () => {
  it('loads the kernel and both initrds (the image one, then the per-boot fragment) over TFTP from the server', () => {
    expect(renderGrubKernelConfig(base).split('\n')).toEqual([
      'set timeout=0',
      'echo DLS: pc-01 52:54:00:12:34:56 boots a signed kernel',
      'linux (tftp,10.0.0.1)/debian/vmlinuz console=ttyS0 root=LABEL=dls-root rw ip=dhcp quiet',
      'initrd (tftp,10.0.0.1)/debian/initrd.img (tftp,10.0.0.1)/dls/52:54:00:12:34:56/tok.abc/iscsi.cpio',
      'boot',
      'echo DLS: the kernel boot failed',
      'sleep 30',
      'reboot',
      '',
    ]);
  });

  it.each([
    ['cmdline', { cmdline: 'quiet; reboot' }],
    ['cmdline', { cmdline: 'root=$root' }],
    ['cmdline', { cmdline: 'a"b' }],
    ['cmdline', { cmdline: 'x{y}' }],
    ['cmdline', { cmdline: '#comment' }],
    ['customBootParams', { extraCmdline: 'a|b' }],
    ['kernel', { kernel: 'a b' }],
    ['initrd', { initrd: 'x\ny' }],
    ['server', { server: '10.0.0.1;x' }],
    ['mac', { mac: 'AA:BB:CC:DD:EE:FF' }],
  ])('refuses a %s GRUB would not read as one plain word', (field, patch) => {
    let err: unknown;
    try {
      renderGrubKernelConfig({ ...base, ...patch });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GrubConfigError);
    expect((err as GrubConfigError).field).toBe(field);
  });

  it('works without an image initrd or command line', () => {
    const text = renderGrubKernelConfig({ ...base, initrd: null, cmdline: null, extraCmdline: null });
    expect(text).toContain('linux (tftp,10.0.0.1)/debian/vmlinuz\n');
    expect(text).toContain('initrd (tftp,10.0.0.1)/dls/52:54:00:12:34:56/tok.abc/iscsi.cpio\n');
  });
});

describe('GRUB text helpers', () => {
  it('echo text keeps words and turns the rest into ?', () => {
    expect(grubEchoText('pc-01 $(x); "y"')).toBe('pc-01 ??x?? ?y?');
    expect(renderGrubMessageConfig('not set up: 10.0.0.5')).toBe('set timeout=0\necho DLS: not set up: 10.0.0.5\nsleep 30\nexit\n');
  });

  it('collapses blanks in a command line', () => {
    expect(grubCmdline('  a   b ')).toBe('a b');
  });
});
