import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from '@config/config.loader';
import type { NetworkRangesService } from '../../network';
import type { BootSessionTracker } from '../boot-session-tracker';
import { syncLoaders, TftpProvider } from './tftp.provider';

describe('TftpProvider transfer events', () => {
  it('names the client and MAC the tracker attributes the address to (null when nobody has it)', async () => {
    const events: { type: string; body: any }[] = [];
    const owners: Record<string, { clientId: string; mac: string | null }> = { '10.0.0.5': { clientId: 'c1', mac: '52:54:00:00:00:05' } };
    const tracker = { onLoaderServed: async (e: { clientIp: string }) => owners[e.clientIp] ?? null } as unknown as BootSessionTracker;
    const provider = new TftpProvider({} as AppConfig, tracker, {} as NetworkRangesService, undefined, undefined, {
      emit: (type, body) => events.push({ type, body }),
    });
    const report = (address: string) =>
      (provider as unknown as { reportTransfer(e: unknown): void }).reportTransfer({
        client: { address, port: 2000 },
        file: 'undionly.kpxe',
        bytes: 70_000,
        ok: true,
        durationMs: 40.4,
      });
    report('::ffff:10.0.0.5');
    report('10.0.0.6');
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual([
      {
        type: 'tftp',
        body: {
          file: 'undionly.kpxe',
          clientIp: '10.0.0.5',
          clientId: 'c1',
          mac: '52:54:00:00:00:05',
          bytes: 70_000,
          durationMs: 40,
          ok: true,
          error: null,
        },
      },
      {
        type: 'tftp',
        body: { file: 'undionly.kpxe', clientIp: '10.0.0.6', clientId: null, mac: null, bytes: 70_000, durationMs: 40, ok: true, error: null },
      },
    ]);
  });
});

describe('syncLoaders', () => {
  it('copies missing or changed loaders, keeps equal ones and skips absent ones with a warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dls-tftp-sync-'));
    try {
      const src = join(dir, 'src');
      const root = join(dir, 'root');
      mkdirSync(src);
      writeFileSync(join(src, 'undionly.kpxe'), 'bios-v1');
      writeFileSync(join(src, 'ipxe.efi'), 'efi-v1');
      const log = { warn: jest.fn(), log: jest.fn() };
      expect(await syncLoaders(root, src, log)).toEqual(['undionly.kpxe', 'ipxe.efi']);
      expect(log.warn).toHaveBeenCalledTimes(2); // ipxe.pxe, snponly.efi missing
      expect(log.log).toHaveBeenCalledTimes(2);
      writeFileSync(join(src, 'ipxe.efi'), 'efi-v2');
      log.log.mockClear();
      await syncLoaders(root, src, log);
      expect(log.log.mock.calls).toEqual([[`updated ipxe.efi in ${root}`]]);
      expect(readFileSync(join(root, 'ipxe.efi'), 'utf8')).toBe('efi-v2');
      expect(readFileSync(join(root, 'undionly.kpxe'), 'utf8')).toBe('bios-v1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
