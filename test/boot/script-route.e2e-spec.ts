/**
 * The boot-script route as a boot storm meets it, against the built DLS in a lab namespace with the README's
 * defaults (issue 12):
 * - a boot's script is prepared once and its repeats are answered from memory, yet an image, group or version change
 *   shows in the very next request, without a restart;
 * - concurrent first requests for one MAC give one boot session and one export, every answer the same script, and no
 *   "illegal boot session transition" in the log;
 * - the per-address rate limit: the default (20 back to back, then 2/s) answers 429 with Retry-After, a refused
 *   address is logged once a minute however often it retries; DLS_BOOT_RATE_* change it.
 *
 * The clients stand in as themselves: each has a DHCP reservation in a full-mode range DLS serves for relayed
 * requests (10.79.0.0/24, on the lab bridge), its address is put on the namespace's loopback, and its requests come
 * from that address (`curl --interface`) with the token DLS's DHCP would hand out, signed with DLS's own key.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signBootToken } from '../../src/modules/pxe-boot/boot-trust/boot-token';
import { createLab, Lab } from '../lab/netns';
import { buildDls, DlsInLab, provisionImage, sessionsOf, startDlsInLab, waitFor } from './dls-lab';

jest.setTimeout(300_000);

const IMAGE_BYTES = 1024 * 1024;
const addressOf = (i: number): string => `10.79.0.${i + 1}`;
const macOf = (i: number): string => `52:54:00:b5:e2:${i.toString(16).padStart(2, '0')}`;

interface Answer {
  status: number;
  retryAfter: string;
  body: string;
}

describe('the boot-script route in a storm', () => {
  let lab: Lab;
  let dls: DlsInLab;
  let work: string;
  let key: Buffer;
  let imageId: string;
  const clientIds: string[] = [];
  let next = 0;
  /** A client of its own for each test (its own address, so the rate limit of one test does not touch another). */
  const fresh = (): number => next++;

  /** The token DLS's DHCP would have handed client `i` for this boot (one per boot, as a PC keeps its script URL). */
  const tokens = new Map<number, string>();
  const tokenOf = (i: number): string => {
    if (!tokens.has(i)) tokens.set(i, signBootToken(key, macOf(i), addressOf(i), Date.now() / 1000));
    return tokens.get(i)!;
  };
  const url = (i: number) => `http://${addressOf(i)}:${dls.httpPort}/boot/${macOf(i)}.ipxe?t=${tokenOf(i)}`;

  /** `n` requests of client `i`, one after another on one connection (curl with the URL n times). */
  const ask = async (i: number, n = 1): Promise<Answer[]> => {
    const sep = '\n--DLS-E2E--';
    const { stdout } = await lab.exec(
      [
        'curl',
        '-sS',
        '-m',
        '30',
        '--interface',
        addressOf(i),
        '-w',
        `${sep} %{http_code} %header{retry-after}\n`,
        ...Array.from({ length: n }, () => url(i)),
      ],
      { timeoutMs: 60_000 },
    );
    const out: Answer[] = [];
    const re = /([\s\S]*?)\n--DLS-E2E-- (\d{3}) ?(\S*)\n/g;
    for (let m = re.exec(stdout); m; m = re.exec(stdout)) out.push({ body: m[1], status: Number(m[2]), retryAfter: m[3] });
    if (out.length !== n) throw new Error(`expected ${n} answers, got ${out.length}:\n${stdout.slice(0, 2000)}`);
    return out;
  };
  const one = async (i: number): Promise<Answer> => (await ask(i))[0];
  const logLines = (re: RegExp): string[] =>
    readFileSync(dls.logFile, 'utf8')
      .split('\n')
      .filter((l) => re.test(l));

  const start = async (env?: Record<string, string>, controlPort?: number): Promise<void> => {
    dls = await startDlsInLab(lab, { dataDir: join(work, 'data'), logFile: join(work, `dls-${Date.now()}.log`), env, controlPort });
    key = Buffer.from(readFileSync(join(dls.dataDir, 'secrets', 'boot-token-key'), 'utf8').trim());
    // The trust rule reads the ranges DLS serves: wait until the relayed range is served (the first client answers).
    await waitFor('DLS to serve the relayed range', async () => (await one(0)).status === 200, 60_000, 500);
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dls-script-e2e-'));
    await buildDls();
    lab = await createLab({ name: `bs-e2e-${process.pid}`, ipv6: false });
    const batch = join(work, 'addrs.batch');
    writeFileSync(batch, Array.from({ length: 40 }, (_, i) => `address add ${addressOf(i)}/32 dev lo\n`).join(''));
    await lab.exec(['ip', '-batch', batch]);
    dls = await startDlsInLab(lab, { dataDir: join(work, 'data'), logFile: join(work, 'dls.log') });
    const disk = join(work, 'disk.raw');
    writeFileSync(disk, Buffer.alloc(IMAGE_BYTES));
    ({ imageId } = await provisionImage(dls, 'storm', disk, IMAGE_BYTES));
    await dls.ok('POST', '/api/v1/network-ranges', {
      name: 'relayed',
      cidr: '10.79.0.0/24',
      interface: lab.bridge,
      dhcpMode: 'full',
      poolStart: '10.79.0.200',
      poolEnd: '10.79.0.220',
      leaseSeconds: 600,
    });
    const created = await dls.ok<{ items: { id: string }[] }>(
      'POST',
      '/api/v1/clients/bulk',
      Array.from({ length: 40 }, (_, i) => ({ macAddress: macOf(i), hostname: `storm-${i}`, assignedImageId: imageId, ipAddress: addressOf(i) })),
    );
    clientIds.push(...created.items.map((c) => c.id));
    key = Buffer.from(readFileSync(join(dls.dataDir, 'secrets', 'boot-token-key'), 'utf8').trim());
    await waitFor('DLS to serve the relayed range', async () => (await one(fresh())).status === 200, 60_000, 500);
  });

  afterAll(async () => {
    try {
      await dls?.stop();
    } finally {
      await lab?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  it('answers a boot from memory, and shows an image, group or version change in the next request', async () => {
    const i = fresh();
    const id = clientIds[i];
    const img = await dls.ok('POST', '/api/v1/images', {
      name: 'storm-kernel',
      sizeBytes: IMAGE_BYTES,
      format: 'raw',
      path: '/lab/storm-kernel.raw',
    });
    const disk = join(work, 'k.raw');
    writeFileSync(disk, Buffer.alloc(IMAGE_BYTES));
    const up = await dls.uploadRaw(img.id, disk);
    expect(up.status).toBeLessThan(300);
    const v1 = await dls.ok('POST', `/api/v1/images/${img.id}/snapshots`, { name: 'v1' });
    await dls.ok('POST', `/api/v1/images/${img.id}/snapshots/${v1.id}/publish`);
    await dls.ok('PATCH', `/api/v1/images/${img.id}`, { bootKernel: 'http://10.79.0.250/vmlinuz', bootCmdline: 'quiet' });
    await dls.ok('PATCH', `/api/v1/clients/${id}`, { assignedImageId: img.id });

    const first = await one(i);
    expect(first.status).toBe(200);
    expect(first.body).toContain('http://10.79.0.250/vmlinuz');
    expect(first.body).toMatch(/ quiet/);
    const repeats = await ask(i, 5);
    for (const r of repeats) expect(r).toEqual(first);
    expect(await sessionsOf(dls, id)).toHaveLength(1);

    // The image: its kernel command line.
    await dls.ok('PATCH', `/api/v1/images/${img.id}`, { bootCmdline: 'quiet dls.image=2' });
    expect((await one(i)).body).toContain('dls.image=2');

    // A group: the client joins one with boot parameters, then the group changes them.
    const group = await dls.ok('POST', '/api/v1/client-groups', { name: 'storm-room', bootParams: 'dls.group=1' });
    await dls.ok('PATCH', `/api/v1/clients/${id}`, { groupId: group.id });
    expect((await one(i)).body).toContain('dls.group=1');
    await dls.ok('PATCH', `/api/v1/client-groups/${group.id}`, { bootParams: 'dls.group=2' });
    const afterGroup = await one(i);
    expect(afterGroup.body).toContain('dls.group=2');
    expect(afterGroup.body).not.toContain('dls.group=1');

    // A version: the next request prepares the client's disk from the newly published one.
    const v2 = await dls.ok('POST', `/api/v1/images/${img.id}/snapshots`, { name: 'v2' });
    await dls.ok('POST', `/api/v1/images/${img.id}/snapshots/${v2.id}/publish`);
    expect((await one(i)).status).toBe(200);
    expect((await dls.ok('GET', `/api/v1/clients/${id}/disk`)).versionId).toBe(v2.id);
    expect(await sessionsOf(dls, id)).toHaveLength(1); // one boot throughout: nothing opened a second session
  });

  it('concurrent first requests for one MAC: one session, one export, the same script to all, no illegal transition', async () => {
    const i = fresh();
    const runs = await Promise.all(Array.from({ length: 12 }, () => one(i)));
    expect(runs.map((r) => r.status)).toEqual(runs.map(() => 200));
    expect(new Set(runs.map((r) => r.body)).size).toBe(1);
    expect(runs[0].body).toContain('sanboot');
    const sessions = await sessionsOf(dls, clientIds[i]);
    expect(sessions).toHaveLength(1);
    await waitFor('the session to reach booting', async () => (await sessionsOf(dls, clientIds[i]))[0].status === 'booting', 10_000, 200);
    const targets = await dls.showTargets();
    expect(targets.split('\n').filter((l) => l.includes(clientIds[i]) && /^Target \d+:/.test(l))).toHaveLength(1);
    expect(logLines(/illegal boot session transition/)).toEqual([]);
  });

  it('rate limit, defaults: 20 back to back, then 429 with Retry-After; the address is logged once however often it retries', async () => {
    const i = fresh();
    const answers = await ask(i, 120);
    expect(answers.slice(0, 20).map((a) => a.status)).toEqual(Array(20).fill(200));
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(90); // 2/s refill: a handful more go through while curl runs
    for (const a of refused) expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused[0].body.startsWith('#!ipxe')).toBe(true);
    const lines = logLines(new RegExp(`${addressOf(i).replace(/\./g, '\\.')} rate-limited`));
    expect(lines).toHaveLength(1);
    const metrics = await lab.exec(['curl', '-sS', 'http://127.0.0.1:9464/metrics']);
    const m = /dls_boot_script_requests_total\{route="script",outcome="rate_limited"\} (\d+)/.exec(metrics.stdout);
    expect(Number(m?.[1])).toBeGreaterThanOrEqual(refused.length); // every refusal counted
  });

  it('rate limit, DLS_BOOT_RATE_*: a larger burst is honoured, and off refuses nothing', async () => {
    const controlPort = dls.controlPort;
    await dls.stop();
    // A room whose PCs all reach DLS through one relay address: the admin allows a burst of 60 from it.
    // The settings under test: an operator raises the burst for clients behind one relay, or turns the limit off.
    await start({ DLS_BOOT_RATE_BURST: '60', DLS_BOOT_RATE_PER_SECOND: '1' }, controlPort);
    const i = fresh();
    const answers = await ask(i, 70);
    expect(answers.slice(0, 60).map((a) => a.status)).toEqual(Array(60).fill(200));
    expect(answers.slice(62).every((a) => a.status === 429 && a.retryAfter === '1')).toBe(true);
    await dls.stop();
    // The same room, and the admin would rather not limit at all.
    await start({ DLS_BOOT_RATE_PER_SECOND: 'off' }, controlPort);
    const j = fresh();
    const all = await ask(j, 150);
    expect(all.every((a) => a.status === 200)).toBe(true);
    expect(logLines(/rate-limited/)).toEqual([]);
  });
});
