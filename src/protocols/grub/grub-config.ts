/**
 * GRUB configuration files for Secure Boot clients (shim → Debian's signed GRUB → a signed kernel), rendered per
 * client like the iPXE scripts. GRUB's script language expands `$…`, splits on blanks and treats `;`, `|`, `&`,
 * `<`, `>`, `{`, `}` and quotes specially, so every value is checked against a word-only alphabet and never quoted:
 * what cannot be a plain word is refused ({@link GrubConfigError}), never escaped.
 */

/** A value that cannot go into a GRUB config; `field` names it. */
export class GrubConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'GrubConfigError';
  }
}

/** One word GRUB reads as it is: no expansion, separator, quote, escape, comment or brace. */
const GRUB_WORD = /^[A-Za-z0-9_.,:/=+@%~^-]+$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function word(value: string, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024 || !GRUB_WORD.test(value)) {
    throw new GrubConfigError(field, `not a plain word GRUB reads as it is: ${JSON.stringify(String(value)).slice(0, 80)}`);
  }
  return value;
}

/** A kernel command line as GRUB words (each checked; blanks collapse). */
export function grubCmdline(value: string, field = 'cmdline'): string {
  if (typeof value !== 'string' || value.length > 4096) throw new GrubConfigError(field, 'must be a string of at most 4096 characters');
  return value
    .split(' ')
    .filter((w) => w.length > 0)
    .map((w) => word(w, field))
    .join(' ');
}

/** Free text for `echo`: letters, digits and a few marks; anything else becomes `?`. Never throws. */
export function grubEchoText(value: unknown, max = 120): string {
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  const text = String(value ?? '')
    .replace(/\s+/g, ' ')
    .replace(/[^A-Za-z0-9 .,:_/+=@-]/g, '?')
    .trim();
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** What a Secure Boot client's kernel boot needs: files of DLS's boot files root, fetched by GRUB over TFTP. */
export interface GrubKernelParams {
  mac: string;
  hostname: string;
  /** DLS's address the client reached (its TFTP server). */
  server: string;
  /** Paths in the boot files root. */
  kernel: string;
  initrd: string | null;
  /** The per-boot iSCSI fragment, as a TFTP path (it carries this boot's token). */
  iscsiInitrd: string;
  cmdline: string | null;
  extraCmdline: string | null;
}

function lines(body: string[]): string {
  return `${body.join('\n')}\n`;
}

/**
 * `linux` + `initrd` over TFTP from the server the client booted from. Under Secure Boot GRUB verifies the kernel
 * through shim (Debian's signed kernel passes, anything else is refused); the initrds — the image's, then DLS's
 * fragment with this boot's login — are concatenated by GRUB, each 4-byte aligned.
 */
export function renderGrubKernelConfig(p: GrubKernelParams): string {
  if (!MAC.test(p.mac)) throw new GrubConfigError('mac', 'not a canonical MAC address');
  if (!IPV4.test(p.server)) throw new GrubConfigError('server', 'not an IPv4 address');
  const dev = `(tftp,${p.server})`;
  const cmdline = [p.cmdline ? grubCmdline(p.cmdline, 'cmdline') : '', p.extraCmdline ? grubCmdline(p.extraCmdline, 'customBootParams') : '']
    .filter(Boolean)
    .join(' ');
  const initrds = [...(p.initrd ? [`${dev}/${word(p.initrd, 'initrd')}`] : []), `${dev}/${word(p.iscsiInitrd, 'iscsiInitrd')}`];
  return lines([
    'set timeout=0',
    `echo DLS: ${grubEchoText(p.hostname, 64)} ${p.mac} boots a signed kernel`,
    `linux ${dev}/${word(p.kernel, 'kernel')}${cmdline ? ` ${cmdline}` : ''}`,
    `initrd ${initrds.join(' ')}`,
    'boot',
    `echo DLS: the kernel boot failed`,
    'sleep 30',
    'reboot',
  ]);
}

/** A config that says why there is nothing to boot (unknown client, not trusted, sanboot image…), then waits and leaves. */
export function renderGrubMessageConfig(message: string): string {
  return lines(['set timeout=0', `echo DLS: ${grubEchoText(message)}`, 'sleep 30', 'exit']);
}
