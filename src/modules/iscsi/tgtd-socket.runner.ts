/**
 * A {@link CommandRunner} that does what the `tgtadm` binary does without spawning it: it speaks tgtd's management
 * protocol ({@link encodeTgtadmRequest}) on `/var/run/tgtd/socket.<control port>` and answers with the exit code,
 * stdout and stderr tgtadm would have produced (0 and the `show` text; 22 and `tgtadm: <tgtd's error text>`; 107 when
 * nobody listens), so {@link TgtAdmAdapter}'s error mapping and parsers stay the same for both transports.
 *
 * Why: a tgtadm process costs ~40 ms on a busy 2-core host, and a first boot needs six; one request on the socket
 * costs well under a millisecond. tgtd serves one management request at a time on its event loop, so the adapter's
 * one-at-a-time queue costs nothing here.
 */
import * as net from 'node:net';
import { CommandResult, CommandRunner } from '@common/exec/command-runner';
import {
  TGTADM_RSP_SIZE,
  TgtadmMode,
  TgtadmOp,
  decodeTgtadmResponseBody,
  decodeTgtadmResponseHeader,
  encodeTgtadmRequest,
  parseTgtadmArgv,
  tgtadmStrerror,
} from '@protocols/tgtadm/tgtadm.codec';
import { TGTADM_EXIT_DAEMON_ERROR, TGTADM_EXIT_UNREACHABLE } from './tgt.errors';

/** Where tgtd puts its management sockets (`<dir>/socket.<control port>`), as tgtadm assumes. */
export const TGTD_SOCKET_DIR = '/var/run/tgtd';

export interface TgtdSocketRunnerOptions {
  /** Socket path without the `.<port>` suffix (default `/var/run/tgtd/socket`; tgtadm's `TGT_IPC_SOCKET`). */
  socketBase?: string;
}

const result = (code: number | null, stdout: string, stderr: string, timedOut = false): CommandResult => ({
  code,
  signal: null,
  stdout,
  stderr,
  timedOut,
});

type Exchange = { kind: 'answer'; err: number; body: string } | { kind: 'unreachable'; cause: string } | { kind: 'broken'; cause: string };

/** One request, one connection (as tgtadm does): resolves with tgtd's answer or why there was none. */
function exchange(path: string, request: Buffer, signal: AbortSignal): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    const chunks: Buffer[] = [];
    let received = 0;
    let connected = false;
    let expected = -1;
    const finish = (x: Exchange) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(x);
    };
    const onAbort = () => finish({ kind: 'broken', cause: 'timed out' });
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      connected = true;
      socket.write(request);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      try {
        if (expected < 0 && received >= TGTADM_RSP_SIZE) expected = decodeTgtadmResponseHeader(Buffer.concat(chunks)).len;
      } catch (e) {
        finish({ kind: 'broken', cause: (e as Error).message });
        return;
      }
      if (expected >= 0 && received >= expected) {
        const all = Buffer.concat(chunks);
        finish({ kind: 'answer', err: all.readUInt32LE(0), body: decodeTgtadmResponseBody(all.subarray(TGTADM_RSP_SIZE, expected)) });
      }
    });
    socket.once('end', () => finish({ kind: 'broken', cause: received ? 'a partial response' : 'tgtd closed the socket' }));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (!connected) finish({ kind: 'unreachable', cause: `${e.code ?? e.message}` });
      else finish({ kind: 'broken', cause: e.message });
    });
  });
}

/** Polls until nothing listens on `path` (tgtd gone after `sys delete`), as tgtadm does, or `signal` aborts. */
async function waitUntilGone(path: string, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    const alive = await new Promise<boolean>((resolve) => {
      const s = net.connect({ path });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (!alive) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** See the file comment. `file` (the tgtadm binary) is ignored. */
export function tgtdSocketRunner(options: TgtdSocketRunnerOptions = {}): CommandRunner {
  const base = options.socketBase ?? `${TGTD_SOCKET_DIR}/socket`;
  return async (_file, args, { timeoutMs }) => {
    let parsed: ReturnType<typeof parseTgtadmArgv>;
    try {
      parsed = parseTgtadmArgv(args);
    } catch (e) {
      return result(TGTADM_EXIT_DAEMON_ERROR, '', `tgtadm: ${(e as Error).message}\n`);
    }
    const path = `${base}.${parsed.controlPort}`;
    const timeout = AbortSignal.timeout(timeoutMs);
    const x = await exchange(path, encodeTgtadmRequest(parsed.request), timeout);
    if (x.kind === 'unreachable') {
      return result(
        TGTADM_EXIT_UNREACHABLE,
        '',
        `tgtadm: can't connect to tgt daemon at ${path} (${x.cause}), Transport endpoint is not connected\n`,
      );
    }
    if (x.kind === 'broken') {
      if (timeout.aborted) return result(null, '', '', true);
      return result(1, '', `tgtadm: ${x.cause}\n`);
    }
    if (x.err !== 0) return result(TGTADM_EXIT_DAEMON_ERROR, '', `tgtadm: ${tgtadmStrerror(x.err)}\n`);
    if (parsed.request.mode === TgtadmMode.SYSTEM && parsed.request.op === TgtadmOp.DELETE) {
      if (!(await waitUntilGone(path, timeout))) return result(null, '', '', true);
    }
    return result(0, x.body, '');
  };
}
