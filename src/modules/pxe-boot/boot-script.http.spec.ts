import { Logger } from '@nestjs/common';
import { createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpAdapterHost } from '@nestjs/core';
import { BootScriptFastPath } from './boot-script.http';
import type { BootScriptService, ScriptRequester, ScriptResponse } from './boot-script.service';

interface Call {
  mac: string | undefined;
  who: ScriptRequester;
  token: unknown;
}

async function serve(answer: (c: Call) => Promise<ScriptResponse>) {
  const calls: Call[] = [];
  const behind: string[] = [];
  const server: Server = createServer((req, res) => {
    behind.push(req.url ?? '');
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"statusCode":404}');
  });
  const scripts = {
    scriptNow: () => null, // nothing in memory: every request takes scriptFor
    scriptFor: (mac: string | undefined, who: ScriptRequester, token: unknown) => {
      const c = { mac, who, token };
      calls.push(c);
      return answer(c);
    },
  } as unknown as BootScriptService;
  const fast = new BootScriptFastPath({ httpAdapter: { getHttpServer: () => server } } as unknown as HttpAdapterHost, scripts);
  fast.onApplicationBootstrap();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const get = (path: string, method = 'GET') =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  return { server, calls, behind, get };
}

beforeAll(() => Logger.overrideLogger(false));

describe('BootScriptFastPath', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it('serves /boot/<mac>.ipxe and /boot/script.ipxe?mac= with the service answer, its status and headers', async () => {
    const s = await serve(async () => ({ status: 200, body: '#!ipxe\nsanboot x\n' }));
    server = s.server;
    const r = await s.get('/boot/52-54-00-00-00-0A.ipxe?t=abc');
    expect(r.status).toBe(200);
    expect(r.body).toBe('#!ipxe\nsanboot x\n');
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength('#!ipxe\nsanboot x\n')));
    expect(s.calls[0]).toEqual({ mac: '52-54-00-00-00-0A', token: 'abc', who: { sourceIp: '127.0.0.1', serverIp: '127.0.0.1' } });
    await s.get('/boot/script.ipxe?mac=52%3A54%3A00%3A00%3A00%3A0a&t=x%2By');
    expect(s.calls[1]).toMatchObject({ mac: '52:54:00:00:00:0a', token: 'x+y' });
    await s.get('/boot/script.ipxe');
    expect(s.calls[2]).toMatchObject({ mac: undefined, token: undefined });
    await s.get('/boot/script.ipxe?mac=a&mac=b&t=1&t=2'); // repeated: not a string, as Express's parser gives it
    expect(s.calls[3]).toMatchObject({ mac: undefined, token: ['1', '2'] });
    const head = await s.get('/boot/52:54:00:00:00:0a.ipxe', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(s.behind).toEqual([]);
  });

  it('429 carries Retry-After; a malformed %-escape is a bad MAC (400 from the service), never a 500', async () => {
    const s = await serve(async (c) =>
      c.mac === undefined ? { status: 400, body: '#!ipxe\nbad\n' } : { status: 429, body: '#!ipxe\nwait\n', retryAfter: 3 },
    );
    server = s.server;
    const limited = await s.get('/boot/52:54:00:00:00:0a.ipxe');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('3');
    expect((await s.get('/boot/%E0%A4%A.ipxe')).status).toBe(400);
  });

  it('hands every other request to Express untouched (other /boot routes, other methods, the API)', async () => {
    const s = await serve(async () => ({ status: 200, body: 'x' }));
    server = s.server;
    for (const path of [
      '/boot/52:54:00:00:00:0a/failed?stage=a&err=1',
      '/boot/52:54:00:00:00:0a/iscsi.cpio',
      '/api/v1/health/live',
      '/boot/a/b.ipxe',
    ]) {
      expect((await s.get(path)).status).toBe(404);
    }
    expect((await s.get('/boot/52:54:00:00:00:0a.ipxe', 'POST')).status).toBe(404);
    expect(s.calls).toEqual([]);
    expect(s.behind).toHaveLength(5);
  });

  it('an unexpected failure is a bare 500 with a correlation id, and the server keeps serving', async () => {
    let fail = true;
    const s = await serve(async () => {
      if (fail) throw new Error('boom');
      return { status: 200, body: 'ok' };
    });
    server = s.server;
    const r = await s.get('/boot/52:54:00:00:00:0a.ipxe');
    expect(r.status).toBe(500);
    expect(r.body).toMatch(/correlation id [0-9a-f-]{36}/);
    expect(r.body).not.toContain('boom');
    fail = false;
    expect((await s.get('/boot/52:54:00:00:00:0a.ipxe')).status).toBe(200);
  });
});
