import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from '@config/config.loader';
import { BootRateLimiter } from '../boot-rate-limit';
import type { BootSessionTracker } from '../boot-session-tracker';
import type { BootTrustService } from '../boot-trust/boot-trust.service';
import { BootFilesService, contentTypeOf } from './boot-files.service';

describe('BootFilesService', () => {
  let root: string;
  let outside: string;
  const onNet = new Set(['10.0.0.50']);
  const served: Array<{ clientIp: string; file: string }> = [];
  const events: Array<[string, unknown]> = [];
  const who = (sourceIp = '10.0.0.50') => ({ sourceIp, serverIp: '10.0.0.1' });

  const make = (limiter = new BootRateLimiter({ burst: 100, refillPerSecond: 100 })) =>
    new BootFilesService(
      { tftp: { root } } as unknown as AppConfig,
      { onBootNetwork: (ip: string) => onNet.has(ip) } as unknown as BootTrustService,
      {
        onLoaderServed: (e: { clientIp: string; file: string }) => {
          served.push(e);
          return Promise.resolve({ clientId: 'c1', mac: '52:54:00:00:00:01' });
        },
      } as unknown as BootSessionTracker,
      limiter,
      { emit: (type: string, body: unknown) => void events.push([type, body]) },
    );

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'dls-bootfiles-'));
    outside = mkdtempSync(join(tmpdir(), 'dls-bootfiles-out-'));
    writeFileSync(join(root, 'ipxe.efi'), Buffer.from('MZ-efi-bytes'));
    mkdirSync(join(root, 'grub'));
    writeFileSync(join(root, 'grub', 'x.cfg'), 'set x=1\n');
    writeFileSync(join(outside, 'secret'), 'secret');
    symlinkSync(join(outside, 'secret'), join(root, 'escape'));
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('serves a file of the root, with its size and EFI content type, from memory', async () => {
    const a = await make().open('ipxe.efi', who());
    expect(a).toMatchObject({ status: 200, size: 12, contentType: 'application/efi', file: 'ipxe.efi' });
    if (a.status !== 200) throw new Error('unreachable');
    expect(make().body(a)).toEqual(Buffer.from('MZ-efi-bytes'));
    expect(await make().open('grub/x.cfg', who())).toMatchObject({ status: 200, contentType: 'application/octet-stream' });
  });

  it('refuses what leaves the root (.., absolute after one slash, a symlink out), and names missing files 404', async () => {
    const s = make();
    expect(await s.open('../etc/passwd', who())).toMatchObject({ status: 403 });
    expect(await s.open('//etc/passwd', who())).toMatchObject({ status: 403 });
    expect(await s.open('escape', who())).toMatchObject({ status: 403 });
    expect(await s.open('missing.efi', who())).toMatchObject({ status: 404 });
    expect(await s.open('grub', who())).toMatchObject({ status: 404 }); // a directory is no file
    expect((await s.open('bad\u0001name', who())).status).toBeGreaterThanOrEqual(400);
  });

  it('answers only requesters on a boot network, within the rate limit', async () => {
    expect(await make().open('ipxe.efi', who('127.0.0.1'))).toMatchObject({ status: 403 });
    const tight = make(new BootRateLimiter({ burst: 1, refillPerSecond: 0.001 }));
    expect((await tight.open('ipxe.efi', who())).status).toBe(200);
    expect(await tight.open('ipxe.efi', who())).toMatchObject({ status: 429 });
  });

  it('reports a whole GET to the tracker and as a boot-file event; an aborted one only as a metric', async () => {
    served.length = 0;
    events.length = 0;
    const s = make();
    const a = await s.open('ipxe.efi', who());
    if (a.status !== 200) throw new Error('expected the file');
    s.served(a, who(), false, 5);
    expect(served).toEqual([]);
    s.served(a, who(), true, 5);
    await new Promise((r) => setImmediate(r));
    expect(served).toEqual([{ clientIp: '10.0.0.50', file: 'ipxe.efi', ok: true }]);
    expect(events).toEqual([
      ['boot-file', { file: 'ipxe.efi', clientIp: '10.0.0.50', clientId: 'c1', mac: '52:54:00:00:00:01', bytes: 12, durationMs: 5 }],
    ]);
  });

  it('types EFI programs (signed ones too) as application/efi', () => {
    expect(contentTypeOf('ipxe.efi')).toBe('application/efi');
    expect(contentTypeOf('shimx64.efi.signed')).toBe('application/efi');
    expect(contentTypeOf('undionly.kpxe')).toBe('application/octet-stream');
  });
});
