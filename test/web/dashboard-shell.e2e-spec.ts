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

/** The dashboard's frame: served at / by DLS itself, login, the live stream, roles, logout, the first-run hint. */
describe('dashboard shell (Chromium)', () => {
  let dls: DashboardDls;
  let browser: Browser;

  beforeAll(async () => {
    dls = await startDashboardDls();
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
