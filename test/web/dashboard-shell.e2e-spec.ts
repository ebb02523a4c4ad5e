/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
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

const ACCESS_TTL_S = 3;

/** The dashboard's frame: served at / by DLS itself, login, the live stream, roles, logout, the first-run hint. */
describe('dashboard shell (Chromium)', () => {
  let dls: DashboardDls;
  let browser: Browser;

  beforeAll(async () => {
    // Short-lived access tokens (a user who wants them sets JWT_ACCESS_TTL too): here they expire during a test, so
    // the dashboard must refresh them without losing the page.
    dls = await startDashboardDls({ JWT_ACCESS_TTL: String(ACCESS_TTL_S) });
    browser = await launchChromium();
  }, 600_000);
  afterAll(async () => {
    await browser?.close();
    await dls?.stop();
  }, 120_000);

  async function page(): Promise<Page> {
    const ctx = await newContext(browser, dls.url);
    return ctx.newPage();
  }

  it('DLS serves the app at / and at its own routes, while /api, /boot and /docs keep their own answers', async () => {
    const index = await fetch(`${dls.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    const html = await index.text();
    expect(html).toContain('<div id="root">');
    const deep = await fetch(`${dls.url}/clients/some-id`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
    const js = await fetch(`${dls.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${dls.url}/assets/missing-chunk.js`)).status).toBe(404);
    const api404 = await fetch(`${dls.url}/api/v1/no-such-route`);
    expect(api404.status).toBe(404);
    expect(api404.headers.get('content-type')).toMatch(/json/);
    expect((await fetch(`${dls.url}/api/v1/clients`)).status).toBe(401);
    expect((await fetch(`${dls.url}/docs-json`)).headers.get('content-type')).toMatch(/json/);
    expect((await fetch(`${dls.url}/metrics`)).status).toBe(404); // served on DLS_METRICS_ADDRESS, never here
    expect((await fetch(`${dls.url}/boot/unknown.ipxe`)).headers.get('content-type')).not.toMatch(/html/);
  });

  it('logs in, keeps the page and the session across a reload, shows the live stream and the first-run hint, logs out', async () => {
    const p = await page();
    await p.goto('/overview');
    await expect(p.getByRole('button', { name: 'Log in' }).isVisible()).resolves.toBe(true);
    expect(await accessibilityViolations(p)).toEqual([]);
    await screenshot(p, 'login');
    await p.getByLabel('Username').fill('admin');
    await p.getByLabel('Password').fill('wrong-password-123');
    await p.getByRole('button', { name: 'Log in' }).click();
    await p
      .getByRole('alert')
      .filter({ hasText: /invalid|credentials/i })
      .waitFor();
    await loginThroughForm(p, 'admin', ADMIN_PASSWORD);
    expect(new URL(p.url()).pathname).toBe('/overview');
    await p.locator('[data-testid="stream-status"][data-status="open"]').waitFor({ timeout: 60_000 });
    await p.getByTestId('first-run-hint').waitFor();
    await p.reload();
    await p.getByTestId('whoami').waitFor({ timeout: 60_000 });
    expect(new URL(p.url()).pathname).toBe('/overview');
    await p.getByRole('button', { name: 'Log out' }).click();
    await p.getByRole('button', { name: 'Log in' }).waitFor();
    await p.context().close();
  });

  it('an expired access token is refreshed without losing the page or the live stream', async () => {
    const p = await page();
    const refreshes: string[] = [];
    p.on('request', (r) => r.url().endsWith('/api/v1/auth/refresh') && refreshes.push(r.url()));
    await p.goto('/storage');
    await loginThroughForm(p, 'admin', ADMIN_PASSWORD);
    await p.locator('[data-testid="stream-status"][data-status="open"]').waitFor({ timeout: 60_000 });
    // the token's lifetime is a clock condition: wait until it is past (plus JWT clock rounding)
    const expired = Date.now() + (ACCESS_TTL_S + 1.5) * 1000;
    await p.waitForFunction((t) => Date.now() > t, expired, { timeout: 60_000 });
    // someone creates an image: its `change` event makes the page ask the API again, with the expired token:
    // 401 → refresh → retry, still logged in, on the same page, and the first-run hint no longer asks for an image
    const hint = p.getByTestId('first-run-hint');
    await hint.getByText('No image yet').waitFor();
    await dls.api('POST', '/api/v1/images', { name: 'shell-refresh-image', sizeBytes: 8 * 1024 * 1024, format: 'raw' });
    await hint.getByText('No image yet').waitFor({ state: 'detached', timeout: 60_000 });
    await expect(waitForCount(() => refreshes.length, 1)).resolves.toBeUndefined();
    expect(new URL(p.url()).pathname).toBe('/storage');
    expect(await p.getByRole('button', { name: 'Log in' }).count()).toBe(0);
    expect(await p.getByTestId('whoami').textContent()).toContain('admin');
    expect(await p.locator('[data-testid="stream-status"]').getAttribute('data-status')).toBe('open');
    await p.context().close();
  });

  it('hostile text in records is shown as text and runs nothing; the page carries a same-origin script policy', async () => {
    const csp = (await fetch(`${dls.url}/`)).headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    const name = '<img src=x onerror="window.__xss=1">';
    const description = '<script>window.__xss=2</script>';
    await dls.api('POST', '/api/v1/images', { name, description, sizeBytes: 8 * 1024 * 1024, format: 'raw' });
    const p = await page();
    await p.goto('/images');
    await loginThroughForm(p, 'admin', ADMIN_PASSWORD);
    await p.getByText(name, { exact: true }).first().waitFor({ timeout: 60_000 });
    await p.getByText(name, { exact: true }).first().click();
    await p.waitForURL(/\/images\/[0-9a-f-]{36}$/);
    await p.getByText(description).first().waitFor({ timeout: 60_000 });
    expect(await p.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await p.locator('img[src="x"]').count()).toBe(0);
    await p.context().close();
  });

  it('a viewer sees no admin pages in the navigation', async () => {
    const password = await dls.createUser('shell-viewer', 'viewer');
    const p = await page();
    await p.goto('/');
    await loginThroughForm(p, 'shell-viewer', password);
    const nav = p.getByRole('navigation', { name: 'Pages' });
    await nav.getByRole('link', { name: 'Room' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Users' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Audit' }).count()).toBe(0);
    await p.context().close();
  });
});

/** Resolves once `count()` reaches `n` (deadline 60 s). */
async function waitForCount(count: () => number, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (count() < n) {
    if (Date.now() > deadline) throw new Error(`count stayed at ${count()} (< ${n})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
