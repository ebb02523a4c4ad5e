/**
 * The Room during a real boot: while a QEMU PXE client boots from DLS, its tile on the Room page (`/`) in Debian's
 * Chromium goes through the boot stages to `running` and shows the boot time the API records.
 *
 * DLS runs inside a network namespace this test creates, with the README's defaults (test/boot/dls-lab.ts); the VM
 * boots on the lab bridge (test/lab/qemu.ts); Chromium runs in this process's namespace and reaches DLS's HTTP port
 * only through the loopback forward (test/lab/forward.ts) — every request to another origin is blocked and counted.
 *
 * The tile's `data-state` is recorded by a MutationObserver in the page (each value with the time the DOM showed it),
 * so a stage shown for a moment between two polls is not missed; the client's events as the page received them are
 * recorded too, for the report line. Which stages this lab shows: QEMU's NIC ROM is iPXE, so DLS hands it the script
 * URL in its DHCP answer and no loader goes out over TFTP (`loader` needs a plain PXE ROM, which Debian's QEMU does not
 * ship); the session's iSCSI login is stamped in the same write that makes it `running`, but the page takes `iscsi`
 * from the `iscsi.login` event, which arrives some tens of milliseconds before the session's `running` event. The test
 * holds the tile to what the API recorded: every stage the session stamped in a write of its own (dhcp, loader, script)
 * was on the tile, in boot order, ending in `running` with the session's boot time.
 * Needs root and the packages listed in test/boot/pxe-boot.e2e-spec.ts, plus chromium.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { addClient, addLabRange, buildDls, DlsInLab, provisionImage, sessionsOf, startDlsInLab, waitFor } from '../boot/dls-lab';
import { buildTestDisk } from '../lab/disk';
import { forwardIntoLab, LabForward } from '../lab/forward';
import { createLab, Lab } from '../lab/netns';
import { bootClient, QemuClient } from '../lab/qemu';
import { confineToOrigin, launchChromium, loginThroughForm, newContext, screenshot } from './dashboard-harness';

jest.setTimeout(600_000);

const DISK_BYTES = 8 * 1024 * 1024;
const MAC = '52:54:00:e7:0b:01';
const ADMIN_PASSWORD = `Room-boot-admin-${process.pid}`;
/** Generous: two cores shared with other work, the VM under TCG. */
const BOOT_DEADLINE_MS = 240_000;
/** The boot stages a tile shows, in boot order. */
const STAGES = ['dhcp', 'loader', 'script', 'iscsi', 'running'] as const;
type Stage = (typeof STAGES)[number];
/** The API's stage stamps (BootSessionStagesDto) for each tile stage. */
const STAMP: Record<Stage, string> = { dhcp: 'dhcpAt', loader: 'loaderAt', script: 'scriptAt', iscsi: 'iscsiLoginAt', running: 'runningAt' };

interface SeenState {
  state: string;
  /** Date.now() in the page when the DOM showed it. */
  at: number;
  /** The boot-time element's text at that moment, if any. */
  bootTime: string | null;
}

/** The few browser globals the in-page recorder uses (this project's type-check has no DOM library). */
interface PageElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): { textContent: string | null } | null;
}
interface SeenEvent {
  /** e.g. `boot-session booting`, `boot-script served`, `dhcp discover`. */
  what: string;
  at: number;
}
interface PageGlobals {
  __states: SeenState[];
  __events: SeenEvent[];
  /** The page's event stream (web/src/events/stream.ts exposes it for browser tests). */
  __dlsEvents?: { on(type: '*', fn: (e: { type: string; body: Record<string, unknown> }) => void): () => void };
  document: { body: unknown; querySelector(selector: string): PageElement | null };
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: object): void };
}

/** "9.4 s", "12 s", "1 min 5 s" → seconds and the half-unit of its last digit (what rounding can hide). */
function parseBootTime(text: string): { seconds: number; tolerance: number } | null {
  const m = /^(?:(\d+)\s*min\s*)?(\d+(?:\.(\d+))?)\s*s$/.exec(text.trim());
  if (!m) return null;
  const decimals = m[3]?.length ?? 0;
  return { seconds: Number(m[1] ?? 0) * 60 + Number(m[2]), tolerance: 0.5 * 10 ** -decimals + 1e-9 };
}

describe('Room tile during a real PXE boot (Chromium, QEMU client in a network namespace)', () => {
  let lab: Lab | undefined;
  let dls: DlsInLab | undefined;
  let forward: LabForward | undefined;
  let vm: QemuClient | undefined;
  let browser: Browser | undefined;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dls-wrb-e2e-'));
    await buildDls();
    lab = await createLab({ name: `wrb-${process.pid}` });
  }, 600_000);

  afterAll(async () => {
    try {
      await browser?.close().catch(() => undefined);
      await vm?.kill();
      await forward?.close();
      await dls?.stop();
    } finally {
      await lab?.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);

  it('the tile goes from off through the boot stages to running and shows the boot time the API records', async () => {
    const diskPath = join(work, 'disk.img');
    await buildTestDisk(diskPath, { label: 'dls-e2e-room', counter: 0, sizeBytes: DISK_BYTES });
    dls = await startDlsInLab(lab!, { dataDir: join(work, 'data'), logFile: join(work, 'dls.log'), adminPassword: ADMIN_PASSWORD });
    const { imageId } = await provisionImage(dls, 'room-disk', diskPath, DISK_BYTES);
    await addLabRange(dls, lab!);
    const client = await addClient(dls, { mac: MAC, hostname: 'lab-room', imageId, diskPolicy: 'reset' });
    await waitFor(
      'DHCP to serve the lab bridge',
      async () => {
        const r = await dls!.api('GET', '/api/v1/health/ready');
        return r.status === 200 && r.body?.info?.dhcp?.interfaces?.some((i: { name: string }) => i.name === lab!.bridge);
      },
      60_000,
      500,
    );
    forward = await forwardIntoLab(lab!, dls.httpPort, work);

    browser = await launchChromium();
    const ctx = await newContext(browser, forward.url);
    const offsite = await confineToOrigin(ctx, forward.url);
    const page: Page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
    const tileSelector = `[data-testid="tile-${client.id}"]`;
    const tile = page.locator(tileSelector);
    const seen = (): Promise<SeenState[]> => page.evaluate(() => (globalThis as unknown as PageGlobals).__states ?? []);
    let poweredOnAt = 0;
    /** A failed wait, with what the page, the VM and DLS said, and a screenshot of the page. */
    const explain = async (e: Error): Promise<never> => {
      await screenshot(page, 'room-real-boot-failed').catch(() => undefined);
      throw new Error(
        `${e.message}\n--- page errors ---\n${pageErrors.join('\n')}\n--- tile states ---\n${JSON.stringify(await seen().catch(() => 'page gone'))}\n` +
          (vm ? `--- COM1 ---\n${vm.serialText().slice(-1500)}\n--- console ---\n${vm.consoleText().slice(-2000)}\n` : '') +
          `--- DLS log ---\n${dls!.logTail(4000)}`,
        { cause: e },
      );
    };

    let states: SeenState[];
    let shown = '(none)';
    try {
      await page.goto('/');
      await loginThroughForm(page, 'admin', ADMIN_PASSWORD);
      expect(new URL(page.url()).pathname).toBe('/');
      await page.locator('[data-testid="stream-status"][data-status="open"]').waitFor({ timeout: 60_000 });
      await page.locator(`${tileSelector}[data-state="off"]`).waitFor({ timeout: 60_000 });

      // Every value the tile's data-state takes from now on, with when the DOM showed it (the tile may be re-rendered:
      // the observer watches the whole document and reads the tile afresh).
      await page.evaluate(
        ({ selector, clientId }) => {
          const w = globalThis as unknown as PageGlobals;
          w.__states = [];
          // And the client's events as the page received them (to tell a stage the page skipped from one never sent).
          w.__events = [];
          w.__dlsEvents?.on('*', (e) => {
            if (e.body?.clientId !== clientId) return;
            const what = [e.body.status, e.body.outcome, e.body.message].find((v) => typeof v === 'string');
            w.__events.push({ what: `${e.type}${what ? ` ${what}` : ''}`, at: Date.now() });
          });
          const record = (): void => {
            const el = w.document.querySelector(selector);
            const state = el?.getAttribute('data-state') ?? '(no tile)';
            if (w.__states.at(-1)?.state === state) return;
            const bootTime = el?.querySelector('[data-testid="boot-time"]')?.textContent ?? null;
            w.__states.push({ state, at: Date.now(), bootTime });
          };
          record();
          new w.MutationObserver(record).observe(w.document.body, {
            subtree: true,
            childList: true,
            attributes: true,
            attributeFilter: ['data-state'],
          });
        },
        { selector: tileSelector, clientId: client.id },
      );

      poweredOnAt = Date.now();
      vm = await bootClient(lab!, { mac: MAC, firmware: 'bios', nic: 'e1000', timeoutMs: BOOT_DEADLINE_MS + 60_000, logDir: join(work, 'vm') });
      // Until running — or error, which fails at once rather than at the deadline.
      await page.waitForFunction(
        () => ['running', 'error'].includes((globalThis as unknown as PageGlobals).__states.at(-1)?.state ?? ''),
        undefined,
        {
          timeout: BOOT_DEADLINE_MS,
          polling: 250,
        },
      );
      states = await seen();
      if (states.some((s) => s.state === 'error')) throw new Error('the tile showed error');
      // The boot time, once the tile shows it as seconds.
      const bootTime = tile.getByTestId('boot-time');
      await bootTime.waitFor({ timeout: 60_000 });
      await waitFor('the tile to show the boot time in seconds', async () => parseBootTime((shown = (await bootTime.textContent()) ?? '')), 60_000);
    } catch (e) {
      return explain(e as Error);
    }
    await screenshot(page, 'room-real-boot-running');

    const session = (await sessionsOf(dls, client.id)).find((s) => s.status === 'running');
    const stamps: Record<string, string | null> = session?.stages ?? {};
    const names = states.map((s) => s.state);
    const stages = names.slice(1);
    const rel = (t: number): string => `${t < poweredOnAt ? '-' : '+'}${(Math.abs(t - poweredOnAt) / 1000).toFixed(1)}s`;
    const received = await page.evaluate(() => (globalThis as unknown as PageGlobals).__events ?? []);
    const unreached = stages.filter((s) => (STAGES as readonly string[]).includes(s) && !stamps[STAMP[s as Stage]]);
    console.log(
      `ROOM-BOOT tile: ${states.map((s) => `${s.state} ${rel(s.at)}`).join(' → ')}; not shown: ${STAGES.filter((s) => !stages.includes(s)).join(', ') || 'none'}; ` +
        `boot-time shown "${shown}", API bootTimeSeconds=${session?.bootTimeSeconds}; ` +
        `API stages: ${STAGES.map((s) => `${s} ${stamps[STAMP[s]] ? rel(Date.parse(stamps[STAMP[s]]!)) : '-'}`).join(', ')} (times from power-on); ` +
        `shown though the session never reached it: ${unreached.join(', ') || 'none'}; ` +
        `events received: ${received.map((e) => `${e.what} +${e.at - poweredOnAt}ms`).join(', ')}`,
    );

    // In boot order: off first, then stages each later in the boot than the one before, running last.
    expect(names[0]).toBe('off');
    for (const s of stages) expect(STAGES).toContain(s);
    const order = stages.map((s) => STAGES.indexOf(s as Stage));
    for (let i = 1; i < order.length; i++) expect(order[i]).toBeGreaterThan(order[i - 1]);
    expect(stages.at(-1)).toBe('running');
    expect(stages.length).toBeGreaterThanOrEqual(2); // at least one stage between off and running

    // The boot time shown is the session's bootTimeSeconds (within the rounding of the text).
    expect(session).toBeDefined();
    expect(session.bootTimeSeconds).toEqual(expect.any(Number));
    const parsed = parseBootTime(shown)!;
    expect(Math.abs(parsed.seconds - session.bootTimeSeconds)).toBeLessThanOrEqual(parsed.tolerance);
    // The room route says the same (the tile's snapshot source).
    const room = await dls.ok<{ clients: { id: string; state: string; lastBootSeconds: number | null }[] }>('GET', '/api/v1/room');
    expect(room.clients.find((c) => c.id === client.id)).toMatchObject({ state: 'running', lastBootSeconds: session.bootTimeSeconds });

    // Every stage the session stamped in a write of its own was on the tile: dhcp (the session opened), loader and
    // script (each moves it or is stamped alone). Not iscsi: its login is stamped in the write that makes it running.
    const ownWrite = (['dhcp', 'loader', 'script'] as const).filter((s) => stamps[STAMP[s]]);
    for (const s of ownWrite) expect(stages).toContain(s);
    // And no stage the session never reached was shown, not even for a frame: the script moves the session to
    // `booting` just before its `boot-script` event, and the page keeps the tile's stage for a session it already
    // shows until the event that names the stage (so no `loader` here, where QEMU's iPXE ROM needs no TFTP loader).
    const unreachedShown = states.slice(1).filter((x) => !stamps[STAMP[x.state as Stage]]);
    expect(unreachedShown).toEqual([]);

    expect(offsite).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
