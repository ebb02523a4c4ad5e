/**
 * Two DLS nodes on one boot LAN and one PostgreSQL (issue 14), each in its own network namespace plugged into the
 * lab's bridge, with its own storage and tgtd; the database is a real PostgreSQL server started by the test in the
 * lab's namespace. A QEMU client boots from node A; A is killed (`kill -9`); node B takes the range over within its
 * hold time and answers the client's next DHCP with the same address. A capture on the bridge shows that only one
 * node ever answered: A before the kill, B after.
 *
 * Before B takes any range it copies the published version from A over the nodes' signed channel and checks it against
 * the sha256 A recorded; after the takeover the client boots its disk from B. The client is `persistent`: its writes
 * on A are lost with A (a fresh clone of the version on B), as README's "Scaling out" says.
 *
 * Both nodes run with the README's defaults plus what a user sets to run several nodes: the shared DATABASE_URL, and
 * a DLS_NODE_NAME per node (both run on one host here, so the host name cannot tell them apart).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestDisk } from '../lab/disk';
import { startLabPostgres } from '../lab/lab-postgres';
import { createLab, Lab, LabProcess } from '../lab/netns';
import { parseSerial } from '../lab/disk';
import { bootClient } from '../lab/qemu';
import { addClient, addLabRange, buildDls, DlsInLab, provisionImage, sessionsOf, startDlsInLab, waitFor } from './dls-lab';

jest.setTimeout(600_000);

const DISK_BYTES = 8 * 1024 * 1024;
const MAC = '52:54:00:d1:5c:01';

/** One DHCP reply seen on the bridge (tcpdump -vvv). */
interface Reply {
  server: string;
  type: string;
  yiaddr: string | null;
  chaddr: string | null;
}

/** The DHCP replies in tcpdump's verbose text, in capture order. */
function repliesIn(text: string): Reply[] {
  return text
    .split(/\n(?=\d\d:\d\d:\d\d\.\d+ IP )/)
    .filter((b) => /BOOTP\/DHCP, Reply/.test(b))
    .map((b) => ({
      server: /Server-ID[^:]*: ([\d.]+)/.exec(b)?.[1] ?? '?',
      type: /DHCP-Message[^:]*: (\w+)/.exec(b)?.[1] ?? '?',
      yiaddr: /Your-IP ([\d.]+)/.exec(b)?.[1] ?? null,
      chaddr: /Client-Ethernet-Address ([0-9a-f:]+)/.exec(b)?.[1] ?? null,
    }));
}

describe('scale-out: two nodes, one database; kill -9 of the DHCP holder, the standby takes over', () => {
  let lab: Lab;
  let nodeA: Lab;
  let nodeB: Lab;
  let work: string;
  let a: DlsInLab;
  let b: DlsInLab;
  let capture: LabProcess;
  let captureLog: string;
  let clientId: string;
  let pgUrl: string;
  let rangeId: string;
  let versionId: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dls-scaleout-e2e-'));
    await buildDls();
    lab = await createLab();
    nodeA = await createLab({ attach: { to: lab, host: 2 } });
    nodeB = await createLab({ attach: { to: lab, host: 3 } });
    const pg = await startLabPostgres(lab, { dir: join(work, 'postgres'), logFile: join(work, 'postgres.log') });
    pgUrl = pg.url;
    captureLog = join(work, 'dhcp.txt');
    capture = lab.spawn(['tcpdump', '-i', lab.bridge, '-n', '-l', '-U', '-vvv', 'udp port 67 or udp port 68'], { logFile: captureLog });
    const node = (name: string, l: Lab) =>
      startDlsInLab(l, {
        dataDir: join(work, name, 'data'),
        logFile: join(work, name, 'dls.log'),
        // Several nodes share one PostgreSQL; each node needs a name of its own (two on one host share the host name).
        env: { DATABASE_URL: pgUrl, DLS_NODE_NAME: name },
      });
    a = await node('dls-a', nodeA);
    const disk = join(work, 'disk.img');
    await buildTestDisk(disk, { label: 'dls-e2e-scale', counter: 0, sizeBytes: DISK_BYTES });
    const provisioned = await provisionImage(a, 'scale-disk', disk, DISK_BYTES);
    const imageId = provisioned.imageId;
    versionId = provisioned.versionId;
    rangeId = (await addLabRange(a, nodeA, 'room')).id;
    clientId = (await addClient(a, { mac: MAC, hostname: 'scale-pc', imageId, diskPolicy: 'persistent' })).id;
    b = await node('dls-b', nodeB);
    await waitFor('B to stand by for the range A serves', async () => /standby for room \(served by dls-a\)/.test(b.logTail(50_000)), 60_000, 200);
  });

  afterAll(async () => {
    try {
      await b?.stop().catch(() => undefined);
      await a?.stop().catch(() => undefined);
      capture?.kill();
    } finally {
      await nodeB?.destroy();
      await nodeA?.destroy();
      await lab?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  it("B copies A's published version and verifies it against the sha256 A recorded", async () => {
    interface Replica {
      node: string;
      state: string;
      method: string | null;
      sourceNode: string | null;
      bytesCopied: number;
      sha256: string | null;
      startedAt: string | null;
      finishedAt: string | null;
    }
    const onB = await waitFor(
      "B's copy of v1 to be verified",
      async () => {
        const rows: Replica[] = await b.ok('GET', `/api/v1/replication?versionId=${versionId}`);
        return rows.find((r) => r.node === 'dls-b' && r.state === 'verified') ?? null;
      },
      60_000,
      200,
    );
    const rows: Replica[] = await a.ok('GET', `/api/v1/replication?versionId=${versionId}`);
    const onA = rows.find((r) => r.node === 'dls-a')!;
    expect(onA).toMatchObject({ state: 'verified', method: 'local', sourceNode: null });
    expect(onB).toMatchObject({ method: 'raw', sourceNode: 'dls-a', sha256: onA.sha256 });
    expect(onB.bytesCopied).toBe(DISK_BYTES);
    const secs = (Date.parse(onB.finishedAt!) - Date.parse(onB.startedAt!)) / 1000;
    console.log(`scale-out: B copied v1 (${DISK_BYTES} bytes, raw) from A and verified it in ${secs.toFixed(2)} s`);
    // The copy is the node channel's alone: a request without a node credential (a user's token, or none) gets nothing.
    const path = `/api/v1/replication/versions/${versionId}/content?base=`;
    const anon = await nodeB.exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${b.httpPort}${path}`]);
    expect(anon.stdout.trim()).toBe('401');
    const forged = await nodeB.exec([
      'curl',
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      `Authorization: DLS-Node ${versionId}.${Date.now() + 30_000}.${'A'.repeat(43)}`,
      `http://127.0.0.1:${b.httpPort}${path}`,
    ]);
    expect(forged.stdout.trim()).toBe('401');
    expect((await b.api('GET', path)).status).toBe(401); // an admin's bearer token is no node credential
  });

  it('A serves and boots the client; after kill -9 of A, B answers its DHCP within the hold time with the same address', async () => {
    // Any node's API shows both nodes and who serves the range.
    const nodes = await b.ok('GET', '/api/v1/nodes');
    expect(
      nodes.map((n: { name: string; healthy: boolean; ranges: { name: string }[] }) => [n.name, n.healthy, n.ranges.map((r) => r.name)]),
    ).toEqual([
      ['dls-a', true, ['room']],
      ['dls-b', true, []],
    ]);

    const first = await bootClient(lab, { mac: MAC, firmware: 'bios', nic: 'e1000', timeoutMs: 150_000, logDir: join(work, 'vm', 'a') });
    let countOnA: number | undefined;
    try {
      await first.waitFor(/DLS-BOOT-OK/, 120_000).catch((e: Error) => {
        throw new Error(`${e.message}\n--- console ---\n${first.consoleText().slice(-2000)}\n--- A's log ---\n${a.logTail(4000)}`);
      });
      await first.waitFor(/DLS-END/, 30_000);
      countOnA = parseSerial(first.consoleText()).count;
    } finally {
      await first.kill();
    }
    const [bootA] = await sessionsOf(a, clientId);
    expect(bootA.bootServerIp).toBe(nodeA.serverIp);
    const address = bootA.clientIp as string;
    expect(address).toMatch(new RegExp(`^${lab.subnet.replace(/\./g, '\\.')}\\.1\\d\\d$`));
    const beforeKill = readFileSync(captureLog, 'utf8').length;

    await a.crash();
    const killedAt = Date.now();
    const took = await waitFor(
      'B to take the range over',
      async () => {
        const list = await b.ok('GET', '/api/v1/nodes');
        const mine = list.find((n: { name: string }) => n.name === 'dls-b');
        return mine.ranges.some((r: { name: string }) => r.name === 'room') ? Date.now() : null;
      },
      60_000,
      100,
    );
    const takeoverMs = took - killedAt;
    console.log(`scale-out: B took the range ${(takeoverMs / 1000).toFixed(1)} s after kill -9 of A (hold 10 s, renewed every 2 s)`);
    // DLS_NODE_LEASE's default (10 s) bounds it, plus a heartbeat (2 s) and this poll.
    expect(takeoverMs).toBeLessThan(15_000);
    await waitFor('B to serve DHCP on the range', async () => /DHCP serving (.* )?room=[^ ]+\/full@/.test(b.logTail(50_000)), 30_000, 100);

    const second = await bootClient(lab, { mac: MAC, firmware: 'bios', nic: 'e1000', timeoutMs: 150_000, logDir: join(work, 'vm', 'b') });
    try {
      // The whole boot from B: its DHCP, its script, a disk cloned from B's verified copy, B's iSCSI target.
      const ok = await second.waitFor(/DLS-BOOT-OK/, 120_000).catch((e: Error) => {
        throw new Error(`${e.message}\n--- console ---\n${second.consoleText().slice(-2000)}\n--- B's log ---\n${b.logTail(4000)}`);
      });
      console.log(`scale-out: the client booted from B ${(ok.elapsedMs / 1000).toFixed(1)} s after power-on (QEMU start → DLS-BOOT-OK)`);
      await second.waitFor(/DLS-END/, 30_000);
      // A persistent disk lives on its node: B clones the version afresh, so the counter starts again where the
      // version has it (what the client wrote on A is lost with A).
      expect(countOnA).toBeDefined();
      expect(parseSerial(second.consoleText()).count).toBe(countOnA);
      const onB = await waitFor(
        'a boot session opened by B',
        async () => (await sessionsOf(b, clientId)).find((s: { bootServerIp: string }) => s.bootServerIp === nodeB.serverIp) ?? null,
        30_000,
        250,
      );
      expect(onB.clientIp).toBe(address); // the address kept across the takeover
      // The client's disk says where it lives now: on B.
      const nodesNow: { id: string; name: string }[] = await b.ok('GET', '/api/v1/nodes');
      const disk = await b.ok('GET', `/api/v1/clients/${clientId}/disk`);
      expect(disk.nodeId).toBe(nodesNow.find((n) => n.name === 'dls-b')!.id);
    } finally {
      await second.kill();
    }

    // Only one node ever answered: every reply before the kill came from A, every one after from B, all with the
    // client's one address.
    const text = existsSync(captureLog) ? readFileSync(captureLog, 'utf8') : '';
    const before = repliesIn(text.slice(0, beforeKill)).filter((r) => r.chaddr === MAC);
    const after = repliesIn(text.slice(beforeKill)).filter((r) => r.chaddr === MAC);
    expect(before.length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    expect([...new Set(before.map((r) => r.server))]).toEqual([nodeA.serverIp]);
    expect([...new Set(after.map((r) => r.server))]).toEqual([nodeB.serverIp]);
    expect([...new Set([...before, ...after].map((r) => r.yiaddr))]).toEqual([address]);
    console.log(`scale-out: ${before.length} DHCP replies from A before the kill, ${after.length} from B after; one address ${address}`);
  });

  // perfdhcp (Kea's load generator) runs DORAs for 80 MACs against the pair while the holder is killed: the restarted
  // node A is the standby now (it must not take the range back from B), B dies, A takes over. Across the whole run no
  // address is acknowledged to two MACs, and no MAC gets two addresses.
  it('perfdhcp against the pair during a takeover: no address handed to two MACs', async () => {
    a = await startDlsInLab(nodeA, {
      dataDir: join(work, 'dls-a', 'data'),
      logFile: join(work, 'dls-a', 'dls-2.log'),
      controlPort: a.controlPort, // the same install restarted: its tgtd (left running by the kill) has this port
      env: { DATABASE_URL: pgUrl, DLS_NODE_NAME: 'dls-a' },
    });
    await waitFor(
      'the restarted A to stand by (B holds the range)',
      async () => /standby for room \(served by dls-b\)/.test(a.logTail(50_000)),
      60_000,
      200,
    );
    // perfdhcp's MACs are no clients of DLS: the room registers unknown MACs (an address, no boot file), as a room
    // whose PCs are added as they appear does.
    await b.ok('PATCH', `/api/v1/network-ranges/${rangeId}`, { unknownClientPolicy: 'register' });
    const cli = await createLab({ attach: { to: lab, host: 9 } });
    try {
      const from = readFileSync(captureLog, 'utf8').length;
      // perfdhcp's exit status reports drops (there are some: the takeover's gap); its report is what counts.
      // 120 s of load: B's share can be slow to start on a busy machine, and A's takeover takes ~10-17 s after the kill.
      const run = cli.exec(['sh', '-c', `perfdhcp -4 -l ${lab.bridge} -r 40 -p 120 -R 80 -b mac=52:54:00:ee:00:00 -d 1 -W 1500000 2>&1; true`], {
        timeoutMs: 180_000,
      });
      // B serves the load for a while first: until the capture shows 40 of its ACKs (a condition, not a sleep: in one
      // CI run the load had not reached B 10 s after perfdhcp started, in another not after 45 s, with nothing to say
      // why: a timeout now reports what the capture and B's log show).
      await waitFor(
        'ACKs from B under perfdhcp load',
        async () => {
          const text = readFileSync(captureLog, 'utf8').slice(from);
          const replies = repliesIn(text);
          const acks = replies.filter((r) => r.type === 'ACK' && r.server === nodeB.serverIp).length;
          if (acks >= 40) return true;
          const requests = text.split(/\n(?=\d\d:\d\d:\d\d\.\d+ IP )/).filter((l) => /BOOTP\/DHCP, Request/.test(l)).length;
          const kinds = [...new Set(replies.map((r) => `${r.type} from ${r.server}`))].join(', ') || 'none';
          throw new Error(
            `${acks} ACKs from B; ${requests} requests and ${replies.length} replies (${kinds}) in the capture; B's log ends: ${b.logTail(1500)}`,
          );
        },
        75_000,
        250,
      );
      await b.crash();
      const killedAt = Date.now();
      const took = await waitFor(
        'A to take the range back over',
        async () => (/took range/.test(a.logTail(50_000)) ? Date.now() : null),
        60_000,
        100,
      );
      const out = (await run).stdout;
      console.log(`scale-out: A took the range ${((took - killedAt) / 1000).toFixed(1)} s after kill -9 of B, under perfdhcp load`);
      console.log(
        out
          .split('\n')
          .filter((l) => /sent packets|received packets|drops/.test(l))
          .join('\n'),
      );

      const replies = repliesIn(readFileSync(captureLog, 'utf8').slice(from)).filter((r) => r.type === 'ACK' && r.yiaddr && r.chaddr);
      const byIp = new Map<string, Set<string>>();
      const byMac = new Map<string, Set<string>>();
      for (const r of replies) {
        byIp.set(r.yiaddr!, (byIp.get(r.yiaddr!) ?? new Set()).add(r.chaddr!));
        byMac.set(r.chaddr!, (byMac.get(r.chaddr!) ?? new Set()).add(r.yiaddr!));
      }
      const servers = replies.map((r) => r.server);
      const firstFromA = servers.indexOf(nodeA.serverIp);
      console.log(
        `scale-out: ${replies.length} ACKs (${servers.filter((x) => x === nodeB.serverIp).length} from B, then ${servers.filter((x) => x === nodeA.serverIp).length} from A) for ${byMac.size} MACs`,
      );
      expect(servers.filter((x) => x === nodeB.serverIp).length).toBeGreaterThan(0);
      expect(firstFromA).toBeGreaterThan(0);
      expect(servers.slice(firstFromA).filter((x) => x !== nodeA.serverIp)).toEqual([]); // never both at once
      expect([...byIp].filter(([, macs]) => macs.size > 1)).toEqual([]);
      expect([...byMac].filter(([, ips]) => ips.size > 1)).toEqual([]);
    } finally {
      await cli.destroy();
    }
  });
});
