/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import { formatBytes } from '../../web/src/lib/format';
import {
  accessibilityViolations,
  ADMIN_PASSWORD,
  DashboardDls,
  launchChromium,
  loginThroughForm,
  newContext,
  screenshot,
  startDashboardDls,
} from './dashboard-harness';

jest.setTimeout(300_000);
const T = { timeout: 60_000 };

interface Storage {
  driver: string;
  totalBytes: number;
  minFreeBytes: number;
}

/** Overview (stats, storage, pools, live feed) and Audit (admins only) against a fresh DLS, driven through the API. */
describe('overview and audit pages (Chromium)', () => {
  let dls: DashboardDls;
  let browser: Browser;
  let admin: Page;
  let imageId: string;

  beforeAll(async () => {
    dls = await startDashboardDls();
    browser = await launchChromium();
    admin = await (await newContext(browser, dls.url)).newPage();
    await admin.goto('/overview');
    await loginThroughForm(admin, 'admin', ADMIN_PASSWORD);
    await admin.locator('[data-testid="stream-status"][data-status="open"]').waitFor(T);
  }, 600_000);
  afterAll(async () => {
    await browser?.close();
    await dls?.stop();
  }, 120_000);

  const text = (p: Page, testId: string) => p.getByTestId(testId).textContent();
  const waitText = async (p: Page, testId: string, expected: string | RegExp) => p.getByTestId(testId).filter({ hasText: expected }).waitFor(T);
  /** axe on the page as it settles (the live badge open: its reconnecting colour is not what is measured). */
  const axe = async (p: Page) => {
    await p.locator('[data-testid="stream-status"][data-status="open"]').waitFor(T);
    return accessibilityViolations(p);
  };
  const feedLine = (p: Page, type: string, hasText: string | RegExp) =>
    p.getByTestId('live-feed').locator(`li[data-type="${type}"]`).filter({ hasText });

  it('renders with no data: zero counts, an empty histogram, the dir driver’s space, no pools', async () => {
    const storage = await dls.api<Storage>('GET', '/api/v1/storage');
    expect(storage.driver).toBe('dir');
    await waitText(admin, 'stat-boots', '0');
    expect(await text(admin, 'stat-running')).toBe('0');
    expect(await text(admin, 'stat-errors')).toBe('0');
    await admin.getByTestId('histogram-empty').waitFor(T);
    await waitText(admin, 'storage-summary', `${formatBytes(storage.totalBytes)} total`);
    expect(await text(admin, 'storage-summary')).toContain(`minimum free ${formatBytes(storage.minFreeBytes)}`);
    await admin.getByTestId('version-usage-empty').waitFor(T);
    await admin.getByTestId('pools-empty').filter({ hasText: 'No network range' }).waitFor(T);
    expect(await axe(admin)).toEqual([]);
  });

  it('shows events as they happen, newest first; pause holds them back, resume shows them; filters by type', async () => {
    imageId = (await dls.api<{ id: string }>('POST', '/api/v1/images', { name: 'ov-image', sizeBytes: 1024 ** 3, format: 'raw' })).id;
    await feedLine(admin, 'change', 'images.create').waitFor(T);
    await dls.api('POST', '/api/v1/clients', { macAddress: '52:54:00:aa:00:01', hostname: 'ov-pc-01', bootMode: 'pxe', assignedImageId: imageId });
    await feedLine(admin, 'change', 'clients.create').waitFor(T);
    // Newest first.
    const first = admin.getByTestId('live-feed').locator('li').first();
    await expect(first.getAttribute('data-type')).resolves.toMatch(/change|audit/);
    expect(await admin.getByTestId('live-feed').locator('li').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringContaining('admin: clients.create')]),
    );

    await admin.getByRole('button', { name: 'Pause' }).click();
    await dls.api('POST', '/api/v1/clients', { macAddress: '52:54:00:aa:00:02', hostname: 'ov-pc-02', bootMode: 'pxe', assignedImageId: imageId });
    await admin.getByTestId('feed-paused').filter({ hasText: /new/ }).waitFor(T);
    expect(await admin.getByTestId('live-feed').locator('li').filter({ hasText: 'clients.create' }).count()).toBe(2); // change + audit of the first
    await admin.getByRole('button', { name: 'Resume' }).click();
    await admin.getByTestId('live-feed').locator('li[data-type="change"]').filter({ hasText: 'clients.create' }).nth(1).waitFor(T);

    const types = admin.getByRole('textbox', { name: 'Event types' });
    await types.click();
    await admin.getByRole('option', { name: 'audit', exact: true }).click();
    await admin.keyboard.press('Escape');
    await admin.waitForFunction(
      () => {
        const items = Array.from(document.querySelectorAll('[data-testid="live-feed"] li'));
        return items.length > 0 && items.every((li) => li.getAttribute('data-type') === 'audit');
      },
      undefined,
      T,
    );
    // Backspace in the empty field removes the last picked type: all types again.
    await types.focus();
    await admin.keyboard.press('Backspace');
    await admin.keyboard.press('Escape');
    await admin.waitForFunction(() => document.querySelector('[data-testid="live-feed"] li[data-type="change"]') !== null, undefined, T);
  });

  it('shows pool utilisation per range', async () => {
    await dls.api('POST', '/api/v1/network-ranges', {
      name: 'ov-lab',
      cidr: '10.99.0.0/24',
      dhcpMode: 'off',
      poolStart: '10.99.0.100',
      poolEnd: '10.99.0.149',
      leaseSeconds: 3600,
      unknownClientPolicy: 'ignore',
      enabled: true,
    });
    await admin.getByTestId('pool-ov-lab').filter({ hasText: '0 of 50 in use' }).waitFor(T);
  });

  it('counts boots, running sessions and errors without a reload, with boot times and stage medians', async () => {
    const clients = await dls.api<{ items: { id: string; hostname: string }[] }>('GET', '/api/v1/clients?limit=10');
    const pc1 = clients.items.find((c) => c.hostname === 'ov-pc-01')!.id;
    const pc2 = clients.items.find((c) => c.hostname === 'ov-pc-02')!.id;
    const url = admin.url();

    const s1 = await dls.api<{ id: string }>('POST', '/api/v1/boot-sessions', { clientId: pc1, clientIp: '10.99.0.101' });
    await waitText(admin, 'stat-boots', '1');
    await feedLine(admin, 'change', 'boot-sessions.open').waitFor(T);
    await dls.api('PATCH', `/api/v1/boot-sessions/${s1.id}`, { status: 'booting' });
    await dls.api('PATCH', `/api/v1/boot-sessions/${s1.id}`, { status: 'running' });
    await waitText(admin, 'stat-running', '1');
    await feedLine(admin, 'change', 'boot-sessions.transition').first().waitFor(T);
    await admin.getByRole('img', { name: /Histogram of boot times today: ≤ 5 s: 1/ }).waitFor(T);
    expect(await admin.getByTestId('boot-percentiles').textContent()).not.toContain('median —');

    const s2 = await dls.api<{ id: string }>('POST', '/api/v1/boot-sessions', { clientId: pc2 });
    await dls.api('PATCH', `/api/v1/boot-sessions/${s2.id}`, { status: 'error', errorMessage: 'iSCSI login timed out' });
    await waitText(admin, 'stat-errors', '1');
    await waitText(admin, 'stat-boots', '2');
    expect(await text(admin, 'stat-running')).toBe('1');
    expect(admin.url()).toBe(url);
    await admin.getByTestId('stage-medians').getByRole('row', { name: /Total/ }).waitFor(T);
    expect(await axe(admin)).toEqual([]);
    await screenshot(admin, 'overview');
  });

  it('lists the actions just taken in the audit log, filters them, searches, shows details', async () => {
    await expect(dls.api('POST', '/api/v1/images', { name: '' })).rejects.toThrow(/400/);
    await admin.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Audit' }).click();
    const table = admin.getByTestId('audit-table');
    await table.locator('tr[data-action="clients.create"]').first().waitFor(T);
    await table.locator('tr[data-action="network-ranges.create"]').waitFor(T);
    expect(await axe(admin)).toEqual([]);
    await screenshot(admin, 'audit');

    /** Waits until the table shows exactly `count` rows (or at least `min`), all with actions starting with `prefix`. */
    const until = (want: { prefix: string; count?: number; min?: number }) =>
      admin.waitForFunction(
        ({ prefix, count, min }) => {
          const a = Array.from(document.querySelectorAll('[data-testid="audit-table"] tbody tr')).map((r) => r.getAttribute('data-action') ?? '');
          return (count === undefined || a.length === count) && a.length >= (min ?? 1) && a.every((x) => x.startsWith(prefix));
        },
        want,
        T,
      );

    await admin.getByLabel('Action', { exact: true }).fill('clients.create');
    await until({ prefix: 'clients.create', count: 2 });
    await admin.getByLabel('Action', { exact: true }).fill('');

    await admin.getByRole('textbox', { name: 'Entity type' }).fill('images');
    await until({ prefix: 'images.', min: 2 });
    await admin.keyboard.press('Escape');

    // Refused requests: the 400 of the bad image just now.
    await admin.locator('label', { hasText: /^4xx$/ }).click();
    await until({ prefix: 'images.create', count: 1 });
    expect(await table.locator('tbody tr').first().textContent()).toContain('400');
    await admin.getByRole('button', { name: /^Details of images.create/ }).click();
    const detail = admin.getByTestId('audit-detail');
    await detail.waitFor(T);
    expect(await detail.locator('pre').textContent()).toContain('"name": ""');
    await admin.getByRole('button', { name: 'Close details' }).click();
    await detail.waitFor({ state: 'detached', ...T });
    await admin.getByRole('button', { name: 'Clear filters' }).click();

    await admin.getByLabel('Search', { exact: true }).fill('network');
    await until({ prefix: 'network-ranges.create', count: 1 });
    await admin.getByLabel('Search', { exact: true }).fill('');

    // A bad time range: the API's own message.
    await admin.getByLabel('From', { exact: true }).fill('2030-01-02T10:00');
    await admin.getByLabel('To', { exact: true }).fill('2030-01-01T10:00');
    await admin.getByTestId('audit-error').filter({ hasText: 'from must not be after to' }).waitFor(T);
    await admin.getByRole('button', { name: 'Clear filters' }).click();
    await admin.getByTestId('audit-error').waitFor({ state: 'detached', ...T });

    // Live: a new write appears without a reload.
    await dls.api('POST', '/api/v1/images', { name: 'ov-image-2', sizeBytes: 1024 ** 3, format: 'raw' });
    await table.locator('tbody tr').first().and(table.locator('tr[data-action="images.create"]')).waitFor(T);
  });

  it('a viewer sees the Overview, no Audit page in the navigation, and an admins-only note at /audit', async () => {
    const password = await dls.createUser('ov-viewer', 'viewer');
    const p = await (await newContext(browser, dls.url)).newPage();
    await p.goto('/overview');
    await loginThroughForm(p, 'ov-viewer', password);
    await waitText(p, 'stat-boots', '2');
    await p.getByTestId('storage-summary').waitFor(T);
    await p.getByTestId('pool-ov-lab').waitFor(T);
    expect(await p.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Audit' }).count()).toBe(0);
    expect(await axe(p)).toEqual([]);
    await p.goto('/audit');
    await p.getByTestId('admins-only').waitFor(T);
    expect(await p.getByTestId('audit-table').count()).toBe(0);
    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'audit-viewer');
    await p.context().close();
  });
});
