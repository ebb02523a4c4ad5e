/**
 * The tgtd pid file: how a DLS that was `kill -9`ed finds the tgtd it left running (tgtd outlives its parent and
 * ignores SIGTERM while it has targets, and a second tgtd on the same control port exits at once). The decision is a
 * pure function of the file's text and what /proc says about the pid in it, so it is tested without processes; the
 * I/O (reading /proc, signalling) sits in the small functions below it. Nothing is ever signalled unless /proc shows
 * a live tgtd started with *our* control port.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { delay } from './tgt-teardown';

/** What /proc says about one pid. */
export interface ProcFacts {
  /** `/proc/<pid>` exists. */
  exists: boolean;
  /** The process is a zombie (already dead, not yet reaped). */
  zombie: boolean;
  /** `/proc/<pid>/cmdline` split on NUL (empty for zombies and kernel threads). */
  cmdline: string[];
}

/** What to do with the pid file found at start. */
export type TgtdPidFileDecision = { action: 'none' } | { action: 'remove-stale'; pid?: number; reason: string } | { action: 'replace'; pid: number };

/** Highest pid Linux hands out (`pid_max` ≤ 2^22). */
const PID_MAX = 4_194_304;

/** The pid in a pid file's text, or undefined when the text is not one plausible pid (never 0 or 1). */
export function parsePidFile(text: string): number | undefined {
  const m = /^\s*(\d{1,7})\s*$/.exec(text);
  if (!m) return undefined;
  const pid = Number(m[1]);
  return pid > 1 && pid <= PID_MAX ? pid : undefined;
}

/** True when argv is a tgtd (by program name) started with control port `controlPort`. */
export function isOurTgtd(cmdline: readonly string[], controlPort: number, binaryNames: readonly string[] = ['tgtd']): boolean {
  const prog = cmdline[0] ? basename(cmdline[0]) : '';
  if (!binaryNames.includes(prog)) return false;
  const cp = String(controlPort);
  for (let i = 1; i < cmdline.length; i++) {
    const a = cmdline[i];
    if ((a === '-C' || a === '--control-port') && cmdline[i + 1] === cp) return true;
    if (a === `-C${cp}` || a === `--control-port=${cp}`) return true;
  }
  return false;
}

/**
 * Decides from the pid file's text (undefined: no file) and the /proc facts of the pid it names (undefined when the
 * text names no pid). Replace only a live, non-zombie tgtd with our control port that is not this process.
 */
export function decideTgtdPidFile(input: {
  text: string | undefined;
  facts: ProcFacts | undefined;
  controlPort: number;
  selfPid: number;
  binaryNames?: readonly string[];
}): TgtdPidFileDecision {
  if (input.text === undefined) return { action: 'none' };
  const pid = parsePidFile(input.text);
  if (pid === undefined) return { action: 'remove-stale', reason: 'it does not hold a pid' };
  if (pid === input.selfPid) return { action: 'remove-stale', pid, reason: `pid ${pid} is this process` };
  const f = input.facts;
  if (!f || !f.exists || f.zombie) return { action: 'remove-stale', pid, reason: `pid ${pid} is not running` };
  if (!isOurTgtd(f.cmdline, input.controlPort, input.binaryNames)) {
    const prog = f.cmdline[0] ? basename(f.cmdline[0]).slice(0, 64) : 'a kernel thread or unreadable';
    return { action: 'remove-stale', pid, reason: `pid ${pid} is not our tgtd (${prog}) — left alone` };
  }
  return { action: 'replace', pid };
}

// ---- I/O ---------------------------------------------------------------------------------------------------------

/** Reads /proc/<pid>/stat and cmdline (never throws). */
export async function readProcFacts(pid: number): Promise<ProcFacts> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return { exists: false, zombie: false, cmdline: [] };
  const state = stat.slice(stat.lastIndexOf(')') + 2).charAt(0); // `pid (comm) S …`; comm may hold ')'
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const cmdline = raw.split('\0');
  if (cmdline[cmdline.length - 1] === '') cmdline.pop();
  return { exists: true, zombie: state === 'Z' || state === 'X', cmdline };
}

/** The pid file's text, or undefined when there is none (or it cannot be read). */
export async function readPidFileText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').then(
    (t) => t.slice(0, 256),
    () => undefined,
  );
}

/** Writes `<pid>\n` atomically (temp file + rename). */
export async function writePidFile(path: string, pid: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${pid}\n`, { mode: 0o644 });
  await rename(tmp, path);
}

/** Removes the pid file if it still names `pid` (another start may have replaced it). */
export async function removePidFileIf(path: string, pid: number): Promise<void> {
  const text = await readPidFileText(path);
  if (text !== undefined && parsePidFile(text) === pid) await rm(path, { force: true }).catch(() => undefined);
}

/**
 * Ends `pid` while it is still our tgtd: SIGTERM, up to `termWaitMs` for it to go, then SIGKILL (tgtd ignores SIGTERM
 * while it has targets) and up to `killWaitMs`. Re-checks /proc before each signal, so a pid reused in between is
 * never signalled. Resolves with the signal that ended it (undefined if it was gone already); rejects if it survives.
 */
export async function endOurTgtd(
  pid: number,
  isOurs: (facts: ProcFacts) => boolean,
  opts: { termWaitMs: number; killWaitMs: number },
): Promise<'SIGTERM' | 'SIGKILL' | undefined> {
  const stillOurs = async () => {
    const f = await readProcFacts(pid);
    return f.exists && !f.zombie && isOurs(f);
  };
  for (const [signal, waitMs] of [
    ['SIGTERM', opts.termWaitMs],
    ['SIGKILL', opts.killWaitMs],
  ] as const) {
    if (!(await stillOurs())) return signal === 'SIGTERM' ? undefined : 'SIGTERM';
    try {
      process.kill(pid, signal);
    } catch {
      return signal === 'SIGTERM' ? undefined : 'SIGTERM'; // ESRCH: gone in between
    }
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      if (!(await stillOurs())) return signal;
      await delay(50);
    }
  }
  if (await stillOurs()) throw new Error(`tgtd pid ${pid} survived SIGKILL`);
  return 'SIGKILL';
}
