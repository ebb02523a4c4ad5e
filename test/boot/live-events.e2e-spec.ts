/**
 * Live events during a real boot (issue 10): a real EventSource client (the `eventsource` package) holds DLS's event
 * stream open, authenticated the way a browser does it — a single-use ticket from POST /api/v1/events/ticket in the
 * URL — while a QEMU PXE client boots from DLS in a private network namespace. The stream shows the client's DHCP
 * exchanges and its boot session going starting → booting → running, in order, as the API then reports it.
 *
 * DLS runs inside the namespace (test/boot/dls-lab.ts, the README's defaults); the EventSource runs in this process
 * and reaches DLS's port through a loopback forward (test/lab/forward.ts). Every wait is on a condition, with a
 * deadline. Needs root and the packages listed in pxe-boot.e2e-spec.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestDisk } from '../lab/disk';
import { forwardIntoLab, LabForward } from '../lab/forward';
import { createLab, Lab } from '../lab/netns';
import { bootClient, QemuClient } from '../lab/qemu';
import { EventSourceLog, ReceivedEvent } from '../support/event-source-log';
import { addClient, addLabRange, buildDls, DlsInLab, provisionImage, sessionsOf, startDlsInLab, waitFor } from './dls-lab';

jest.setTimeout(300_000);

const DISK_BYTES = 8 * 1024 * 1024;
const MAC = '52:54:00:e7:0e:01';

describe('live events during a PXE boot (EventSource client, QEMU client in a network namespace)', () => {
  let lab: Lab | undefined;
  let dls: DlsInLab | undefined;
  let forward: LabForward | undefined;
  let vm: QemuClient | undefined;
  const streams: EventSourceLog[] = [];
  let work: string;

  /** An EventSource on the stream, opened with a fresh ticket (as a browser does: the ticket goes in the URL). */
  const openStream = async (ticket?: string): Promise<EventSourceLog> => {
    ticket ??= (await dls!.ok<{ ticket: string }>('POST', '/api/v1/events/ticket')).ticket;
    const log = new EventSourceLog(`${forward!.url}/api/v1/events?ticket=${encodeURIComponent(ticket)}`);
    streams.push(log);
    return log;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dls-evt-e2e-'));
    await buildDls();
    lab = await createLab({ name: `evt-${process.pid}` });
  });

  afterAll(async () => {
    for (const s of streams) s.close();
    try {
      await vm?.kill();
      await forward?.close();
      await dls?.stop();
    } finally {
      await lab?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  it('the stream shows the DHCP exchanges and the session going starting → booting → running', async () => {
    const diskPath = join(work, 'disk.img');
    await buildTestDisk(diskPath, { label: 'dls-e2e-events', counter: 0, sizeBytes: DISK_BYTES });
    dls = await startDlsInLab(lab!, { dataDir: join(work, 'data'), logFile: join(work, 'dls.log') });
    const withLog = (e: Error): never => {
      throw new Error(`${e.message}\n--- DLS log ---\n${dls!.logTail(4000)}`);
    };
    const { imageId } = await provisionImage(dls, 'events-disk', diskPath, DISK_BYTES);
    await addLabRange(dls, lab!);
    const client = await addClient(dls, { mac: MAC, hostname: 'lab-events', imageId, diskPolicy: 'reset' });
    await waitFor(
      'DHCP to serve the lab bridge',
      async () => {
        const r = await dls!.api('GET', '/api/v1/health/ready');
        return r.status === 200 && r.body?.info?.dhcp?.interfaces?.some((i: { name: string }) => i.name === lab!.bridge);
      },
      60_000,
      500,
    ).catch(withLog);

    forward = await forwardIntoLab(lab!, dls.httpPort, work);
    const ticket = (await dls.ok<{ ticket: string }>('POST', '/api/v1/events/ticket')).ticket;
    const stream = await openStream(ticket);
    await stream.opened;

    vm = await bootClient(lab!, { mac: MAC, firmware: 'bios', nic: 'e1000', timeoutMs: 240_000, logDir: join(work, 'vm') });
    await vm.waitFor(/DLS-BOOT-OK/, 120_000).catch((e: Error) => {
      throw new Error(`${e.message}\n--- console ---\n${vm!.consoleText().slice(-2000)}\n--- DLS log ---\n${dls!.logTail(4000)}`);
    });
    const mine = (l: EventSourceLog) => l.ofType('boot-session').filter((e) => e.data.body.clientId === client.id);
    // `running` comes from the session monitor seeing the iSCSI login (every couple of seconds); the VM stays up for it.
    await stream.waitFor('the session to be running', (l) => mine(l).some((e) => e.data.body.status === 'running'), 60_000).catch(withLog);
    const sessionEvents = mine(stream); // before the VM goes: no shutdown yet
    await vm.kill();

    // One session, seen in order: starting → booting → running, each naming the status it left.
    expect(sessionEvents.map((e) => e.data.body.status)).toEqual(['starting', 'booting', 'running']);
    expect(sessionEvents.map((e) => e.data.body.previousStatus)).toEqual([null, 'starting', 'booting']);
    const sessionId = sessionEvents[0].data.body.sessionId;
    expect(new Set(sessionEvents.map((e) => e.data.body.sessionId))).toEqual(new Set([sessionId]));
    const running = sessionEvents[2].data.body;
    expect(running.bootTimeSeconds).toEqual(expect.any(Number));
    expect(running.clientIp).toMatch(new RegExp(`^${lab!.subnet.replace(/\./g, '\\.')}\\.\\d+$`));
    // The API agrees with what the stream said.
    const fromApi = (await sessionsOf(dls, client.id)).find((s) => s.id === sessionId);
    expect(fromApi).toMatchObject({ status: 'running', bootTimeSeconds: running.bootTimeSeconds });
    // With the time each stage was first reached, in order (a TFTP loader only when the ROM is not iPXE already).
    const st = fromApi!.stages as Record<string, string | null>;
    for (const k of ['dhcpAt', 'scriptAt', 'iscsiLoginAt', 'runningAt']) expect(st[k]).toEqual(expect.any(String));
    const order = ['dhcpAt', 'loaderAt', 'scriptAt', 'iscsiLoginAt', 'runningAt'].filter((k) => st[k] !== null).map((k) => Date.parse(st[k]!));
    expect(order).toEqual([...order].sort((x, y) => x - y));
    // A TFTP transfer to the client's address names the client.
    for (const e of stream.ofType('tftp').filter((x) => x.data.body.clientIp === running.clientIp)) {
      expect(e.data.body).toMatchObject({ clientId: client.id, mac: MAC });
    }

    // The client's DHCP exchanges arrived: an offer for its DISCOVER and an ack for its REQUEST, before its session.
    const dhcp = stream.ofType('dhcp').filter((e) => e.data.body.mac.toLowerCase() === MAC);
    const pairs = dhcp.map((e) => `${e.data.body.message}/${e.data.body.reply}`);
    expect(pairs).toEqual(expect.arrayContaining(['discover/offer', 'request/ack']));
    for (const e of dhcp) expect(e.data.body).toMatchObject({ clientId: client.id, proxy: false });
    expect(dhcp.find((e) => e.data.body.reply === 'ack')!.data.body.ip).toBe(running.clientIp);
    expect(BigInt(dhcp[0].data.id!)).toBeLessThan(BigInt(sessionEvents[0].data.id!));
    // And what else a dashboard shows of this boot: the script served, the disk's iSCSI login.
    expect(stream.ofType('boot-script').map((e) => e.data.body)).toEqual(
      expect.arrayContaining([expect.objectContaining({ mac: MAC, clientId: client.id, outcome: 'served' })]),
    );
    expect(stream.ofType('iscsi.login').map((e) => e.data.body.clientId)).toContain(client.id);

    // As EventSource delivered them: ids increasing, each message's lastEventId its own id, no error or reconnect.
    const ids = stream.events.map((e: ReceivedEvent) => e.data.id!);
    expect(stream.events.map((e) => e.lastEventId)).toEqual(ids);
    for (let i = 1; i < ids.length; i++) expect(BigInt(ids[i])).toBeGreaterThan(BigInt(ids[i - 1]));
    expect(stream.ofType('dropped')).toEqual([]);
    expect(stream.errors).toEqual([]);
    console.log(
      `stream during the boot: ${stream.events.length} events (${[...new Set(stream.events.map((e) => e.type))].join(', ')}); ` +
        `session ${sessionEvents.map((e) => e.data.body.status).join(' → ')}, boot_time_seconds=${running.bootTimeSeconds}, ` +
        `stages ${JSON.stringify(st)}`,
    );

    // The ticket was single-use: an EventSource that reconnects with it gets 401 and stops (it does not retry).
    const reused = await openStream(ticket);
    await expect(reused.opened).rejects.toThrow(/401/);
    expect(reused.errors[0]).toMatchObject({ code: 401, readyState: 2 });
  });
});
