/**
 * A boot storm's first requests against a real tgtd: IscsiExportsService (with an in-memory stand-in for its tables,
 * whose tid query answers a tick later so allocations race as in PostgreSQL) over the real TgtExporter and
 * TgtdSupervisor. 50 clients ask for their first export at once: every one succeeds, with a distinct tid, and tgtd
 * serves each with its own LUN, account and ACL.
 */
import { Logger } from '@nestjs/common';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.loader';
import { IscsiExportsService } from '../../src/modules/iscsi/iscsi-exports.service';
import { MemoryExports } from '../../src/modules/iscsi/testing/memory-exports';
import { TgtExporter } from '../../src/modules/iscsi/tgt-exporter';
import { TgtAdmAdapter } from '../../src/modules/iscsi/tgt.adapter';
import { TgtdSupervisor } from '../../src/modules/iscsi/tgtd.supervisor';
import { LOOPBACK, libiscsi, pickControlPort, pickPortalPort, tgtdPidsFor } from './iscsi-test-helpers';

const N = 50;
let dir: string;
let port: number;
let controlPort: number;
let supervisor: TgtdSupervisor;
let service: IscsiExportsService;
let repo: MemoryExports;

beforeAll(async () => {
  Logger.overrideLogger(false);
  dir = await mkdtemp(join(tmpdir(), `dls-storm-e2e-${process.pid}-`));
  port = await pickPortalPort(23);
  controlPort = pickControlPort(23);
  const adapter = new TgtAdmAdapter({ controlPort, timeoutMs: 10_000 });
  supervisor = new TgtdSupervisor({ controlPort, portal: { address: LOOPBACK, port }, adapter, nopInterval: 5, nopCount: 3 });
  repo = new MemoryExports();
  // A loopback portal of its own (DLS_ISCSI_PORTAL), so the test never listens on the host's interfaces.
  const config = loadConfig({ DLS_DATA_DIR: join(dir, 'data'), DLS_ISCSI_PORTAL: `${LOOPBACK}:${port}` });
  service = new IscsiExportsService(config, repo.asRepository(), supervisor, new TgtExporter({ adapter }), undefined, repo);
  await service.onApplicationBootstrap();
});

afterAll(async () => {
  try {
    await service?.onApplicationShutdown();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  expect(await tgtdPidsFor(controlPort)).toEqual([]);
});

describe('a storm of first exports against a real tgtd', () => {
  it(`${N} concurrent first exports of distinct clients all succeed with distinct tids, each served`, async () => {
    const clients = Array.from({ length: N }, (_, i) => `${String(i).padStart(8, '0')}-5d0c-4000-8000-000000000000`);
    const disks: string[] = [];
    for (let i = 0; i < N; i++) {
      disks.push(join(dir, `disk-${i}.raw`));
      await writeFile(disks[i], '');
      await truncate(disks[i], 8 * 1024 * 1024);
    }
    const results = await Promise.allSettled(
      clients.map((c, i) => service.ensureExport(c, disks[i], { sessionId: `b0000000-0000-4000-8000-${String(i).padStart(12, '0')}` })),
    );
    expect(results.filter((r) => r.status === 'rejected').map((r) => String(r.reason))).toEqual([]);

    const tids = clients.map((c) => repo.rows.get(c)!.tid);
    expect(new Set(tids).size).toBe(N);
    const targets = await supervisor.adapter.showTargets();
    expect(targets).toHaveLength(N);
    for (const [i, c] of clients.entries()) {
      const t = targets.find((x) => x.tid === repo.rows.get(c)!.tid)!;
      expect(t.iqn).toBe(repo.rows.get(c)!.targetIqn);
      expect(t.luns.find((l) => l.lun === 1)?.backingStorePath).toBe(disks[i]);
      expect(t.acls).toEqual([repo.rows.get(c)!.initiatorIqn]);
      expect(t.accounts).toEqual([{ user: repo.rows.get(c)!.chapUser, outgoing: false }]);
    }
    // One of them logs in with its own secret.
    const info = (results[N - 1] as PromiseFulfilledResult<Awaited<ReturnType<IscsiExportsService['ensureExport']>>>).value;
    const login = { port, iqn: info.targetIqn, user: info.chapUser, secret: info.chapSecret, initiator: info.initiatorIqn };
    expect((await libiscsi('iscsi-readcapacity16', login)).code).toBe(0);
  }, 120_000);
});
