/**
 * A stand-in for tgtd's management socket, for specs of the socket transport: it records every request's bytes and
 * answers each with what `answer` returns (a tgtadm errno and body, raw bytes, or nothing at all).
 */
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import { TGTADM_REQ_SIZE } from '@protocols/tgtadm/tgtadm.codec';

export type FakeAnswer = { err: number; body?: string } | { raw: Buffer; end?: boolean } | { silent: true };

export class FakeTgtdSocket {
  readonly requests: Buffer[] = [];
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly path: string,
    private readonly answer: (request: Buffer) => FakeAnswer = () => ({ err: 0 }),
  ) {}

  async listen(): Promise<void> {
    await fsp.rm(this.path, { force: true });
    this.server = net.createServer((socket) => {
      let buf = Buffer.alloc(0);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < TGTADM_REQ_SIZE || buf.length < buf.readUInt32LE(72)) return;
        const req = buf.subarray(0, buf.readUInt32LE(72));
        this.requests.push(req);
        const a = this.answer(req);
        if ('silent' in a) return;
        if ('raw' in a) {
          if (a.end === false) socket.write(a.raw);
          else socket.end(a.raw);
          return;
        }
        const body = a.body ? Buffer.from(`${a.body}\0`) : Buffer.alloc(0);
        const head = Buffer.alloc(8);
        head.writeUInt32LE(a.err, 0);
        head.writeUInt32LE(8 + body.length, 4);
        socket.end(Buffer.concat([head, body]));
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.path, () => resolve());
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const c of this.sockets) c.destroy();
    if (s) await new Promise((r) => s.close(r));
    await fsp.rm(this.path, { force: true });
  }
}
