import { encodeNewc } from '@protocols/cpio/cpio-newc';
import { IpxeScriptError, ipxeIpv4, ipxeIqn, ipxePort } from '@protocols/ipxe/ipxe-script';
import type { IscsiExportInfo } from './iscsi-exports.port';

/**
 * dracut reads extra command-line arguments from `/etc/cmdline.d/*.conf` inside the initramfs before `/proc/cmdline`
 * (`getcmdline` in dracut-lib.sh; dracut.cmdline(7), "Configuration in the Initramfs"), and its iscsi module takes
 * `netroot=` and `rd.iscsi.initiator=` through that same lookup. `90-` sorts after what an image's own initramfs may
 * carry.
 */
export const DRACUT_ISCSI_CONF = 'etc/cmdline.d/90-dls-iscsi.conf';

/** dracut splits `netroot=iscsi:user:pass@…` at `:` and `@`, and the line into words: neither may occur in a value. */
const CHAP_USER = /^[A-Za-z0-9._-]{1,255}$/;
const CHAP_SECRET = /^[A-Za-z0-9._~+=-]{12,255}$/;

/**
 * dracut's iSCSI root parameters (dracut.cmdline(7): `netroot=iscsi:[user:pass@]server::port:lun:target`,
 * `rd.iscsi.initiator=`), so a kernel-booted image mounts the same per-client disk a SAN boot would use. They hold
 * this boot's CHAP secret: they go into the initrd fragment ({@link iscsiInitrd}), never onto the kernel command line.
 */
export function iscsiRootParams(exp: IscsiExportInfo): string {
  const initiator = ipxeIqn(exp.initiatorIqn, 'initiatorIqn');
  const target = ipxeIqn(exp.targetIqn, 'targetIqn');
  const address = ipxeIpv4(exp.portal.address, 'portal.address');
  const port = ipxePort(exp.portal.port, 'portal.port');
  if (!Number.isInteger(exp.lun) || exp.lun < 0 || exp.lun > 255) throw new IpxeScriptError('lun', `bad LUN ${String(exp.lun)}`);
  if (!CHAP_USER.test(exp.chapUser ?? '')) throw new IpxeScriptError('chapUser', 'bad CHAP user name');
  if (!CHAP_SECRET.test(exp.chapSecret ?? '')) throw new IpxeScriptError('chapSecret', 'bad CHAP secret');
  return `rd.iscsi.initiator=${initiator} netroot=iscsi:${exp.chapUser}:${exp.chapSecret}@${address}::${port}:${exp.lun}:${target}`;
}

/**
 * The per-boot initrd fragment of a kernel boot: a newc cpio holding `etc/`, `etc/cmdline.d/` (0755, as in any
 * initramfs) and {@link DRACUT_ISCSI_CONF} (0600, root) with {@link iscsiRootParams}. iPXE loads it after the image's
 * initramfs; the kernel unpacks both into the same rootfs, so the file joins the image's `/etc`.
 */
export function iscsiInitrd(exp: IscsiExportInfo): Buffer {
  return encodeNewc([
    { type: 'dir', path: 'etc', mode: 0o755 },
    { type: 'dir', path: 'etc/cmdline.d', mode: 0o755 },
    { type: 'file', path: DRACUT_ISCSI_CONF, mode: 0o600, data: `${iscsiRootParams(exp)}\n` },
  ]);
}
