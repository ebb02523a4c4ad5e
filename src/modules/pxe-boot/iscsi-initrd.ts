import { gzipSync } from 'node:zlib';
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

/**
 * Debian's initramfs-tools + open-iscsi: its `local-top/iscsi` script sources `/etc/iscsi.initramfs` (shell variable
 * assignments) when present and logs in with `iscsistart` before the root is mounted.
 */
export const INITRAMFS_TOOLS_ISCSI_CONF = 'etc/iscsi.initramfs';

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
 * The same login for initramfs-tools' open-iscsi script ({@link INITRAMFS_TOOLS_ISCSI_CONF}): sourced by `sh`, so
 * every value is single-quoted — the checks of {@link iscsiRootParams} (which this calls) admit no quote. The portal
 * group tag is tgt's 1. The initiator logs in to the whole target; the root is found by the image's `root=` (a
 * LABEL or UUID), so tgt's LUN 0 (its controller) does not matter.
 */
export function initramfsToolsIscsiConf(exp: IscsiExportInfo): string {
  iscsiRootParams(exp);
  const q = (v: string | number) => `'${String(v)}'`;
  return [
    `ISCSI_INITIATOR=${q(exp.initiatorIqn)}`,
    `ISCSI_TARGET_NAME=${q(exp.targetIqn)}`,
    `ISCSI_TARGET_IP=${q(exp.portal.address)}`,
    `ISCSI_TARGET_PORT=${q(exp.portal.port)}`,
    `ISCSI_TARGET_GROUP=${q(1)}`,
    `ISCSI_USERNAME=${q(exp.chapUser)}`,
    `ISCSI_PASSWORD=${q(exp.chapSecret)}`,
    '',
  ].join('\n');
}

/**
 * The per-boot initrd fragment of a kernel boot: a gzip-compressed newc cpio holding `etc/`, `etc/cmdline.d/` (0755, as in any
 * initramfs), {@link DRACUT_ISCSI_CONF} with {@link iscsiRootParams} for dracut images and
 * {@link INITRAMFS_TOOLS_ISCSI_CONF} with {@link initramfsToolsIscsiConf} for initramfs-tools images (both 0600,
 * root). iPXE (or GRUB) loads it after the image's initramfs; the kernel unpacks both into the same rootfs, so the
 * files join the image's `/etc`, and whichever initramfs the image has finds its own.
 */
export function iscsiInitrd(exp: IscsiExportInfo): Buffer {
  // gzip-compressed: the kernel finds an uncompressed cpio only at a 4-byte aligned offset of the initrds it is given,
  // and the EFI stub loading `initrd=` files (iPXE on UEFI) lays them end to end, so after an image initramfs whose
  // length is not a multiple of 4 a plain cpio was skipped ("Initramfs unpacking failed: invalid magic at start of
  // compressed archive": no login, no root; test/boot/linux-root.e2e-spec.ts). A compressed archive is found by its
  // magic at any offset.
  return gzipSync(
    encodeNewc([
      { type: 'dir', path: 'etc', mode: 0o755 },
      { type: 'dir', path: 'etc/cmdline.d', mode: 0o755 },
      { type: 'file', path: DRACUT_ISCSI_CONF, mode: 0o600, data: `${iscsiRootParams(exp)}\n` },
      { type: 'file', path: INITRAMFS_TOOLS_ISCSI_CONF, mode: 0o600, data: initramfsToolsIscsiConf(exp) },
    ]),
  );
}
