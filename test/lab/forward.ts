/**
 * Reaches a TCP port inside a lab namespace from the test process (which stays in the host's namespace): a relay
 * started in the namespace listens on a Unix socket — a file, so the host side can connect to it — and connects each
 * client to `127.0.0.1:<port>` there; a listener on the host's loopback pipes each of its connections to that socket.
 * Bytes only: HTTP (and an event stream) passes unchanged. Traffic stays on the host's loopback, the socket and the
 * namespace's own loopback; nothing else is reachable through it.
 */
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { Lab } from './netns';

/** The relay run inside the namespace (`node -e`): argv = [Unix socket path, TCP port on the namespace's loopback]. */
const RELAY = `
const net = require('node:net');
const [sock, port] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(Number(port), '127.0.0.1');
  const end = () => { c.destroy(); u.destroy(); };
  for (const s of [c, u]) { s.on('error', end); s.on('close', end); }
  c.pipe(u).pipe(c);
}).listen(sock);
`;

export interface LabForward {
  /** `http://127.0.0.1:<port>` on the host's loopback, reaching `127.0.0.1:<port in the namespace>`. */
  url: string;
  /** Stops the listener, drops its connections and ends the relay. Idempotent. */
  close(): Promise<void>;
}

/**
 * Forwards a loopback port of this process to `port` on the loopback of `lab`'s namespace. `dir` holds the relay's
 * socket and log (an existing directory of the caller's). The relay is a lab process: `lab.destroy()` ends it too.
 */
export async function forwardIntoLab(lab: Lab, port: number, dir: string): Promise<LabForward> {
  const sock = join(dir, `forward-${port}.sock`);
  const relay = lab.spawn([process.execPath, '-e', RELAY, sock, String(port)], { logFile: join(dir, `forward-${port}.log`) });
  const deadline = Date.now() + 15_000;
  while (!existsSync(sock)) {
    if (Date.now() > deadline) {
      relay.kill();
      throw new Error(`relay into ${lab.ns} did not create ${sock}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }

  const open = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const u = net.connect(sock);
    const end = () => {
      c.destroy();
      u.destroy();
    };
    for (const s of [c, u]) {
      open.add(s);
      s.on('error', end);
      s.on('close', () => {
        open.delete(s);
        end();
      });
    }
    c.pipe(u).pipe(c);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port: local } = server.address() as net.AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${local}`,
    close(): Promise<void> {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of open) s.destroy();
        await closed;
        relay.kill();
        await relay.exited;
      })();
      return closing;
    },
  };
}
