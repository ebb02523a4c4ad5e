/**
 * iPXE script rendering: the text DLS answers `GET /boot/<mac>.ipxe` with. Pure (no Nest, no I/O).
 *
 * iPXE recognises a script by its `#!ipxe` first line, splits each line into whitespace-separated words, expands
 * `${name}` settings anywhere in a line, and treats the words `||`, `&&` and `;` as command separators
 * (ipxe.org/scripting). Every value interpolated here is therefore either checked against an allow-list (addresses,
 * IQNs, CHAP credentials, URLs, kernel command lines → {@link IpxeScriptError} when bad) or, for free text that is
 * only shown to the user (`echo`), reduced to a harmless character set. Nothing a client or admin typed can add a
 * line, expand another setting or chain another command.
 */

export const IPXE_SHEBANG = '#!ipxe';

/** iPXE's own error codes for a failed `sanboot` end up in `${errno}` (hex, e.g. `0x3d12603b`). */
export const IPXE_ERRNO_SETTING = '${errno}';

/** A value that cannot be put into an iPXE script safely. */
export class IpxeScriptError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'IpxeScriptError';
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** RFC 3720 §3.2.6.3.1 iqn names, restricted to what DLS itself generates (lower-case, no spaces). */
const IQN = /^iqn\.\d{4}-\d{2}\.[a-z0-9.-]+(:[a-z0-9.:_-]+)?$/;
/** CHAP user/secret (RFC 3720 §11.1.4): DLS uses plain ASCII tokens; tgt accepts at most 255 characters. */
const CHAP_USER = /^[A-Za-z0-9._:-]{1,255}$/;
const CHAP_SECRET = /^[A-Za-z0-9._~+/=-]{12,255}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** One word of printable ASCII without `$` (no setting expansion), quotes or backslash (iPXE quoting). */
const WORD = /^[\x21-\x7e]+$/;
const FORBIDDEN_IN_WORD = /[$"'\\]/;
const URL_SCHEME = /^(https?|tftp):\/\/[^/\s]+/i;
/** Words iPXE treats as command separators when they stand alone. */
const SEPARATOR_WORDS = new Set(['||', '&&', ';']);

/** Checks an IPv4 address. */
export function ipxeIpv4(value: string, field = 'address'): string {
  if (typeof value !== 'string' || !IPV4.test(value)) throw new IpxeScriptError(field, `not an IPv4 address: ${show(value)}`);
  return value;
}

/** Checks a TCP port. */
export function ipxePort(value: number, field = 'port'): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new IpxeScriptError(field, `not a TCP port: ${show(value)}`);
  return value;
}

/** Checks an iSCSI qualified name. */
export function ipxeIqn(value: string, field = 'iqn'): string {
  if (typeof value !== 'string' || value.length > 223 || !IQN.test(value)) throw new IpxeScriptError(field, `not an iqn name: ${show(value)}`);
  return value;
}

/** Checks a canonical (lower-case, colon-separated) MAC address. */
export function ipxeMac(value: string, field = 'mac'): string {
  if (typeof value !== 'string' || !MAC.test(value)) throw new IpxeScriptError(field, `not a canonical MAC address: ${show(value)}`);
  return value;
}

/** A path inside DLS's boot files root: relative, `/`-separated safe names, no `.` or `..` segment. */
const BOOT_FILE_PATH = /^(?!\.\.?(\/|$))[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,127}(\/(?!\.\.?(\/|$))[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,127}){0,15}$/;

/** Whether `value` names a file of DLS's boot files root (`debian/vmlinuz`) rather than a URL. */
export function isBootFilePath(value: string): boolean {
  return typeof value === 'string' && BOOT_FILE_PATH.test(value);
}

/**
 * A kernel/initrd reference as stored on an image: an http(s)/tftp URL, or a path in DLS's boot files root, which
 * the script names as `<filesBase>/<path>` (`http://<the address the client reached>:<port>/boot/files`).
 */
export function ipxeBootFile(value: string, filesBase: string, field = 'url'): string {
  if (isBootFilePath(value)) return ipxeUrl(`${filesBase}/${value}`, field);
  return ipxeUrl(value, field);
}

/** Checks an http(s)/tftp URL that is used as one word (kernel, initrd, chain target). */
export function ipxeUrl(value: string, field = 'url'): string {
  if (typeof value !== 'string' || value.length > 2048 || !URL_SCHEME.test(value)) {
    throw new IpxeScriptError(field, `not an http, https or tftp URL: ${show(value)}`);
  }
  assertWord(value, field);
  return value;
}

/**
 * Checks a kernel command line: printable ASCII words separated by single spaces, none of them a command separator
 * or a comment, no `$` (setting expansion), no quotes or backslashes. Returns it with whitespace collapsed.
 */
export function ipxeCmdline(value: string, field = 'cmdline'): string {
  if (typeof value !== 'string' || value.length > 4096) throw new IpxeScriptError(field, 'must be a string of at most 4096 characters');
  if (/[^\x20-\x7e]/.test(value)) throw new IpxeScriptError(field, 'only printable ASCII and spaces are allowed');
  const words = value.split(' ').filter((w) => w.length > 0);
  for (const w of words) assertWord(w, field);
  return words.join(' ');
}

/**
 * Free text for `echo`: anything outside letters, digits, space and `. , : _ / ( ) - + = @ [ ]` becomes `?`,
 * runs of whitespace collapse, and the result is cut to `max` characters. Never throws.
 */
export function ipxeEchoText(value: unknown, max = 200): string {
  // Any value may arrive here (it is echoed, sanitised, never parsed); an object prints as [object Object].
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  const text = String(value ?? '')
    .replace(/\s+/g, ' ')
    .replace(/[^A-Za-z0-9 .,:_/()+=@[\]-]/g, '?')
    .trim();
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** The boot values an admin stores and the renderer later checks with {@link ipxeUrl} or {@link ipxeCmdline}. */
export type IpxeValueKind = 'url' | 'cmdline';

/**
 * Write-time check with the renderer's own rules: the message the script renderer would throw for `value` in
 * `field` (e.g. `customBootParams: must not contain $, quotes or backslashes: "a$b"`), or null when it would render.
 * The API validates stored boot fields with this, so a client or image can't be saved in a state that fails at boot.
 */
export function ipxeValueProblem(kind: IpxeValueKind, value: unknown, field: string): string | null {
  try {
    if (kind === 'url') {
      if (isBootFilePath(value as string)) return null;
      if (typeof value !== 'string' || !URL_SCHEME.test(value)) {
        return `${field}: neither an http, https or tftp URL nor a path in the boot files root: ${show(value)}`;
      }
      ipxeUrl(value, field);
    } else ipxeCmdline(value as string, field);
    return null;
  } catch (err) {
    if (err instanceof IpxeScriptError) return err.message;
    throw err;
  }
}

function assertWord(word: string, field: string): void {
  if (!WORD.test(word)) throw new IpxeScriptError(field, `contains whitespace or non-printable characters: ${show(word)}`);
  if (FORBIDDEN_IN_WORD.test(word)) throw new IpxeScriptError(field, `must not contain $, quotes or backslashes: ${show(word)}`);
  if (SEPARATOR_WORDS.has(word)) throw new IpxeScriptError(field, `must not contain the iPXE command separator ${word}`);
  if (word.startsWith('#') || word.startsWith(':')) throw new IpxeScriptError(field, `a word must not start with # or : (${show(word)})`);
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

function script(lines: string[]): string {
  for (const l of lines) if (/[\r\n]/.test(l)) throw new IpxeScriptError('script', 'a line contains a line break');
  return [IPXE_SHEBANG, ...lines, ''].join('\n');
}

/**
 * Where the client reaches DLS's boot routes (`http://<server>:<port>/boot/<mac>/…`): the failure report, and for a
 * kernel boot the per-boot iSCSI initrd fragment. Both carry the token the script was fetched with.
 */
export interface FailureReport {
  serverIp: string;
  httpPort: number;
  mac: string;
  /** The boot-route token the script was fetched with; the report must carry it too. */
  token?: string | null;
}

/** Everything a SAN boot from DLS's iSCSI export needs. */
export interface SanbootParams {
  mac: string;
  /** Shown on the client's screen. */
  hostname: string;
  portal: { address: string; port: number };
  targetIqn: string;
  /** LUN of the disk (tgt: 1; LUN 0 is the controller). */
  lun: number;
  initiatorIqn: string;
  chapUser: string;
  chapSecret: string;
  report: FailureReport;
}

const TOKEN = /^[0-9a-z]{1,10}\.[A-Za-z0-9_-]{22}$/;

/** `http://<server>:<port>/boot/<mac>/<route>`, every part checked; `query` words are DLS's own. */
function bootRouteUrl(r: FailureReport, route: string, query: string[]): string {
  ipxeIpv4(r.serverIp, 'serverIp');
  ipxePort(r.httpPort, 'httpPort');
  ipxeMac(r.mac);
  if (r.token != null && !TOKEN.test(r.token)) throw new IpxeScriptError('token', `bad token ${show(r.token)}`);
  const q = [...query, ...(r.token ? [`t=${r.token}`] : [])];
  return `http://${r.serverIp}:${r.httpPort}/boot/${r.mac}/${route}${q.length ? `?${q.join('&')}` : ''}`;
}

/** URL of the failure report, with iPXE expanding `${errno}` at run time. */
export function failureUrl(r: FailureReport, stage: string): string {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(stage)) throw new IpxeScriptError('stage', `bad stage ${show(stage)}`);
  return bootRouteUrl(r, 'failed', [`stage=${stage}`, `err=${IPXE_ERRNO_SETTING}`]);
}

/** Name iPXE gives DLS's per-boot iSCSI initrd fragment (`initrd --name`), and so the `initrd=` an EFI stub reads. */
export const ISCSI_INITRD_NAME = 'dls-iscsi.cpio';

/** URL of the client's per-boot iSCSI initrd fragment (`GET /boot/<mac>/iscsi.cpio?t=<token>`). */
export function iscsiInitrdUrl(r: FailureReport): string {
  return bootRouteUrl(r, 'iscsi.cpio', []);
}

/**
 * `sanboot` from the client's iSCSI target (RFC 4173 root path `iscsi:<server>:<protocol>:<port>:<LUN>:<target>`;
 * the port is left empty when it is the default 3260). The initiator name and CHAP credentials go into iPXE's
 * `initiator-iqn`, `username` and `password` settings. On failure the script reports the stage and `${errno}` and
 * exits, so the firmware moves on to its next boot device.
 */
export function renderSanbootScript(p: SanbootParams): string {
  const address = ipxeIpv4(p.portal.address, 'portal.address');
  const port = ipxePort(p.portal.port, 'portal.port');
  if (!Number.isInteger(p.lun) || p.lun < 0 || p.lun > 255) throw new IpxeScriptError('lun', `bad LUN ${show(p.lun)}`);
  const target = ipxeIqn(p.targetIqn, 'targetIqn');
  const initiator = ipxeIqn(p.initiatorIqn, 'initiatorIqn');
  if (!CHAP_USER.test(p.chapUser ?? '')) throw new IpxeScriptError('chapUser', 'bad CHAP user name');
  if (!CHAP_SECRET.test(p.chapSecret ?? '')) throw new IpxeScriptError('chapSecret', 'bad CHAP secret (12-255 token characters)');
  const root = `iscsi:${address}::${port === 3260 ? '' : port}:${p.lun}:${target}`;
  return script([
    `echo DLS: ${ipxeEchoText(p.hostname, 64)} (${ipxeMac(p.mac)}) boots from ${address}`,
    `set initiator-iqn ${initiator}`,
    `set username ${p.chapUser}`,
    `set password ${p.chapSecret}`,
    `sanboot ${root} || goto failed`,
    ':failed',
    `echo DLS: SAN boot failed (${IPXE_ERRNO_SETTING})`,
    `chain ${failureUrl(p.report, 'sanboot')} || echo DLS: could not report the failure`,
    'exit 1',
  ]);
}

/** Linux-style network boot: kernel + optional initrd + command line. */
export interface KernelParams {
  mac: string;
  hostname: string;
  kernel: string;
  initrd?: string | null;
  /** Image command line followed by the client's own parameters (both checked). */
  cmdline?: string | null;
  extraCmdline?: string | null;
  report: FailureReport;
  /**
   * Also load DLS's per-boot iSCSI initrd fragment ({@link iscsiInitrdUrl}, named {@link ISCSI_INITRD_NAME}) after
   * the image's initrd: it carries the iSCSI login, so the kernel command line carries no secret.
   */
  iscsiInitrd?: boolean;
}

const INITRD_NAME = /^[A-Za-z0-9._+-]{1,64}$/;

/** The name iPXE registers an image initrd under: its URL's last path segment (no query), when that is a safe word. */
function initrdNameOf(url: string): string {
  const path = url.replace(/^[a-z]+:\/\/[^/]*/i, '').split(/[?#]/)[0];
  const base = path.split('/').filter(Boolean).slice(-1)[0] ?? '';
  const name = INITRD_NAME.test(base) ? base : 'initrd.img';
  return name === ISCSI_INITRD_NAME ? `image-${name}` : name;
}

/**
 * `kernel` / `initrd` / `boot`, reporting a failure like {@link renderSanbootScript}. iPXE hands every registered
 * initrd to the kernel, concatenated in the order fetched (BIOS bzImage loader; UEFI through the LoadFile2 initrd
 * device), so DLS's fragment comes last and its files win. Each initrd is fetched with `--name` and named again in an
 * `initrd=<name>` word, which an EFI-stub kernel without LoadFile2 support uses to find each one (BIOS kernels ignore
 * it). A command line that already names an `initrd=` keeps its own for the image's initrd.
 */
export function renderKernelScript(p: KernelParams): string {
  const kernel = ipxeUrl(p.kernel, 'kernel');
  const initrd = p.initrd ? ipxeUrl(p.initrd, 'initrd') : null;
  const cmdline = [p.cmdline ? ipxeCmdline(p.cmdline, 'cmdline') : '', p.extraCmdline ? ipxeCmdline(p.extraCmdline, 'customBootParams') : '']
    .filter(Boolean)
    .join(' ');
  const initrds: Array<{ url: string; name: string; named: boolean }> = [];
  if (initrd) initrds.push({ url: initrd, name: initrdNameOf(initrd), named: !/(^| )initrd=/.test(cmdline) });
  if (p.iscsiInitrd) initrds.push({ url: iscsiInitrdUrl(p.report), name: ISCSI_INITRD_NAME, named: true });
  const words = [`kernel ${kernel}`, ...initrds.filter((i) => i.named).map((i) => `initrd=${i.name}`), ...(cmdline ? [cmdline] : [])];
  const lines = [`echo DLS: ${ipxeEchoText(p.hostname, 64)} (${ipxeMac(p.mac)}) boots a kernel`, `${words.join(' ')} || goto failed`];
  for (const i of initrds) lines.push(`initrd --name ${i.name} ${i.url} || goto failed`);
  lines.push('boot || goto failed', ':failed', `echo DLS: kernel boot failed (${IPXE_ERRNO_SETTING})`);
  lines.push(`chain ${failureUrl(p.report, 'kernel')} || echo DLS: could not report the failure`, 'exit 1');
  return script(lines);
}

/** Boot from the local disk: `exit` hands control back to the firmware's next boot device. */
export function renderLocalBootScript(message?: string): string {
  return script([...(message ? [`echo DLS: ${ipxeEchoText(message)}`] : []), 'exit']);
}

/** A known client an admin still has to set up: say so, wait a little, hand back to the firmware. */
export function renderWaitingScript(opts: { mac: string; sleepSeconds?: number }): string {
  const sleep = opts.sleepSeconds ?? 30;
  if (!Number.isInteger(sleep) || sleep < 0 || sleep > 3600) throw new IpxeScriptError('sleepSeconds', 'must be 0..3600');
  return script([
    `echo DLS: this machine (${ipxeMac(opts.mac)}) is registered and waits for an administrator to assign it an image.`,
    `sleep ${sleep}`,
    'exit',
  ]);
}

/**
 * A machine DLS does not serve. Deliberately says nothing about images, clients or the server's configuration.
 * `mac` is optional (the caller may not have a valid one) and is shown only when it is canonical.
 */
export function renderUnknownClientScript(mac?: string | null, sleepSeconds = 5): string {
  const who = mac && MAC.test(mac) ? ` (${mac})` : '';
  return script([`echo DLS: this machine${who} is not set up for network boot here.`, `sleep ${sleepSeconds}`, 'exit']);
}

/** A boot that cannot proceed: print the (sanitised) reason, wait so a human can read it, exit. */
export function renderErrorScript(reason: string, sleepSeconds = 10): string {
  return script([`echo DLS: cannot boot: ${ipxeEchoText(reason)}`, `sleep ${sleepSeconds}`, 'exit 1']);
}

/**
 * The client's disk is in use by a live iSCSI connection from another address: print that and stop, touching
 * nothing (no reset, no re-export, no new session). The machine that really is this client is still running.
 */
export function renderDiskInUseScript(mac: string, sleepSeconds = 10): string {
  ipxeMac(mac);
  return script([`echo DLS: the disk of ${mac} is in use by a running machine; not booting it here.`, `sleep ${sleepSeconds}`, 'exit 1']);
}

/** Answer to the failure report a script chains to: acknowledges it; the calling script then exits. */
export function renderFailureRecordedScript(stage: string, err: string): string {
  return script([`echo DLS: recorded the failure (stage ${ipxeEchoText(stage, 32)}, error ${ipxeEchoText(err, 32)})`]);
}
