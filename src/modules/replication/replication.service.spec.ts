import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../config/config.loader';
import type { ClusterService } from '../cluster/cluster.service';
import type { StorageDriver } from '../storage';
import { ReplicationService } from './replication.service';

/**
 * Shutdown with a pass in progress: the hash of a version made here (on zfs-fuse after a boot storm it took minutes,
 * and DLS never got as far as stopping tgtd). The database and the cluster are fakes: nothing here reaches them.
 */
describe('ReplicationService shutdown', () => {
  const VERSION = '6f1f7a3c-8b4e-4a8e-9c59-1b7f3e2d9a10';
  const IMAGE = '0c4d5e6f-1a2b-4c3d-8e9f-0a1b2c3d4e5f';

  function service(versionSha256: StorageDriver['versionSha256']): { svc: ReplicationService; warnings: string[] } {
    const ds = { query: jest.fn(async () => []) } as unknown as DataSource;
    const cluster = { id: null, liveNodeIds: async () => [], setTakeoverGate: () => undefined } as unknown as ClusterService;
    const config = { node: { name: 'n1' } } as unknown as AppConfig;
    const driver = { versionSha256 } as unknown as StorageDriver;
    const svc = new ReplicationService(ds, config, cluster, driver);
    const warnings: string[] = [];
    (svc as unknown as { logger: { warn: (m: string) => void; log: () => void } }).logger = {
      warn: (m) => warnings.push(m),
      log: () => undefined,
    };
    return { svc, warnings };
  }

  afterEach(() => jest.useRealTimers());

  it('aborts a version hash in progress and returns once it stopped, without a warning', async () => {
    let signal: AbortSignal | undefined;
    const hashing = jest.fn((_i: string, _v: string, o?: { signal?: AbortSignal }) => {
      signal = o?.signal;
      return new Promise<string>((_resolve, reject) => o?.signal?.addEventListener('abort', () => reject(o.signal!.reason as Error)));
    });
    const { svc, warnings } = service(hashing);
    await svc.noteMade(IMAGE, VERSION);
    await new Promise((r) => setImmediate(r));
    expect(hashing).toHaveBeenCalledWith(IMAGE, VERSION, expect.objectContaining({ signal: expect.any(AbortSignal) }));
    expect(signal?.aborted).toBe(false);
    const started = Date.now();
    await svc.onApplicationShutdown();
    expect(signal?.aborted).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(warnings).toEqual([]);
  });

  it('does not wait more than its bound for a pass that does not stop', async () => {
    jest.useFakeTimers();
    const { svc, warnings } = service(() => new Promise<string>(() => undefined)); // deaf to the signal
    await svc.noteMade(IMAGE, VERSION);
    let done = false;
    const stopping = svc.onApplicationShutdown().then(() => (done = true));
    await jest.advanceTimersByTimeAsync(4_000);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(1_500);
    await stopping;
    expect(done).toBe(true);
    expect(warnings).toEqual([expect.stringMatching(/still running after 5 s of shutdown: not waited for/)]);
  });
});
