/**
 * Browser tests of the dashboard: the built server (`dist/src/main.js`, web bundle in dist/web) as a user starts it,
 * with its embedded PostgreSQL, driven by Debian's Chromium through playwright-core (no browser download).
 * Screenshots go to test-artifacts/web/.
 */
import AxeBuilder from '@axe-core/playwright';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { buildDls, pickControlPort, repoRoot } from '../boot/dls-lab';
import { DlsProcess, exitWithin, freeTcpPort, spawnDls, waitUntilReady } from '../install/dls-process';
import { removeEmbeddedPostgres } from '../support/leftovers';

export const ADMIN_PASSWORD = 'Dashboard-admin-pass-1';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = join(repoRoot(), 'test-artifacts', 'web');

export interface DashboardDls {
  url: string;
  port: number;
  dataDir: string;
  process: DlsProcess;
  /** A JSON API call as the bootstrap admin (or with `token`); throws on a non-2xx with the body. */
  api<T = unknown>(method: string, path: string, body?: unknown, token?: string): Promise<T>;
  login(username: string, password: string): Promise<string>;
  /** Creates a user with `role`; returns its password. */
  createUser(username: string, role: 'viewer' | 'operator' | 'admin'): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts the built DLS with the README's defaults. Set only: the data dir (each test its own), the first admin's
 * password (the test logs in with it; a user reads the printed one), HOST/PORT (a free port on loopback: suites run
 * side by side, and a user picks their port too), and a private tgtd control port and portal (other tgtds on the
 * host, concurrent suites, use the defaults 213/3260).
 */
export async function startDashboardDls(env: Record<string, string> = {}): Promise<DashboardDls> {
  const root = repoRoot();
  await buildDls(root);
  const dataDir = mkdtempSync(join(tmpdir(), 'dls-web-'));
  const port = await freeTcpPort();
  const proc = spawnDls(join(root, 'dist', 'src', 'main.js'), {
    cwd: root,
    env: {
      HOST: '127.0.0.1',
      PORT: String(port),
      DLS_DATA_DIR: dataDir,
      DLS_ADMIN_PASSWORD: ADMIN_PASSWORD,
      DLS_TGTD_CONTROL_PORT: String(pickControlPort()),
      DLS_ISCSI_PORTAL: `127.0.0.1:${await freeTcpPort()}`,
      ...env,
    },
  });
  try {
    await waitUntilReady(proc, port);
  } catch (e) {
    proc.child.kill('SIGKILL');
    throw e;
  }
  const url = `http://127.0.0.1:${port}`;
  const login = async (username: string, password: string) => {
    const r = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    if (!r.ok) throw new Error(`login ${username}: ${r.status} ${await r.text()}`);
    return ((await r.json()) as { accessToken: string }).accessToken;
  };
  let adminToken = await login('admin', ADMIN_PASSWORD);
  const api = async <T>(method: string, path: string, body?: unknown, token?: string): Promise<T> => {
    const send = () =>
      fetch(`${url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token ?? adminToken}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    let r = await send();
    // The admin logging out in the browser revokes the admin's access tokens, this one too: log in again.
    if (r.status === 401 && !token) {
      adminToken = await login('admin', ADMIN_PASSWORD);
      r = await send();
    }
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  let users = 0;
  return {
    url,
    port,
    dataDir,
    process: proc,
    api,
    login,
    async createUser(username, role) {
      const password = `Pw-${username}-${++users}-x9`;
      await api('POST', '/api/v1/users', { username, password, role });
      return password;
    },
    async stop() {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
      await exitWithin(proc, 60_000).catch(() => undefined);
      await removeEmbeddedPostgres(dataDir).catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless, with the flags a closed network needs (no background connections, no updates). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

export async function newContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  return browser.newContext({ baseURL, viewport: { width: 1440, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
}

/**
 * Keeps a browser context to one origin: every request elsewhere is aborted and its URL recorded in the returned
 * array (assert it stays empty). For pages reached through a forward into a lab namespace, where nothing else may be
 * contacted.
 */
export async function confineToOrigin(ctx: BrowserContext, origin: string): Promise<string[]> {
  const blocked: string[] = [];
  const allowed = new URL(origin).origin;
  await ctx.route(
    (url) => url.origin !== allowed,
    (route) => {
      blocked.push(route.request().url());
      return route.abort('blockedbyclient');
    },
  );
  return blocked;
}

/** Logs in through the form and waits for the shell (the live stream badge) to appear. */
export async function loginThroughForm(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('whoami').waitFor({ timeout: 60_000 });
}

/** Full-page screenshot into test-artifacts/web/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** axe-core's WCAG A/AA violations of serious or critical impact on the current page (ids and targets). */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  // A toast fading in or out is measured at part opacity, so axe reports its text's contrast as too low (seen in CI).
  // Toasts close by themselves (3 s, errors 10 s): measure the page once none is left.
  await page.locator('.mantine-Notification-root').first().waitFor({ state: 'detached', timeout: 60_000 });
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} — ${v.nodes
          .map((n) => n.target.join(' '))
          .slice(0, 5)
          .join(', ')}`,
    );
}

export function freshDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
