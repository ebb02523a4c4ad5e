import AxeBuilder from '@axe-core/playwright';
import type { Browser, Locator, Page } from 'playwright-core';
import { ADMIN_PASSWORD, DashboardDls, launchChromium, loginThroughForm, newContext, screenshot, startDashboardDls } from './dashboard-harness';

jest.setTimeout(300_000);

const T = { timeout: 60_000 };

/** The input labelled exactly `text` (a required input's label ends in " *"). */
function byLabel(scope: Page | Locator, text: string): Locator {
  return scope.getByLabel(new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( \\*)?$`));
}

/** The error Mantine shows under the input labelled `label` (the API's message for that field). */
function errorUnder(scope: Locator, label: string): Locator {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return scope
    .locator('.mantine-InputWrapper-root')
    .filter({ has: scope.page().getByLabel(new RegExp(`^${escaped}( \\*)?$`)) })
    .locator('.mantine-InputWrapper-error');
}

async function fieldError(scope: Locator, label: string): Promise<string> {
  const error = errorUnder(scope, label);
  await error.waitFor(T).catch(async (e: unknown) => {
    process.stdout.write(`no error by ${label}; the dialog: ${await scope.innerText().catch(() => '?')}\n`);
    throw e;
  });
  return (await error.textContent()) ?? '';
}

async function isInvalid(scope: Locator, label: string): Promise<boolean> {
  return (await errorUnder(scope, label).count()) > 0;
}

/** axe's serious/critical WCAG A/AA violations of these pages (as the harness's accessibilityViolations), printing the HTML of each. */
async function axe(p: Page): Promise<string[]> {
  // A toast fading in or out is measured at part opacity (a false contrast failure, seen in CI): wait until none is left.
  await p.waitForFunction(() => document.querySelector('.mantine-Notification-root') === null, null, { timeout: 60_000 });
  const r = await new AxeBuilder({ page: p }).withTags(['wcag2a', 'wcag2aa']).analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const x of bad) for (const n of x.nodes) process.stdout.write(`${x.id}: ${n.html} ${n.failureSummary ?? ''}\n`);
  return bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

async function textOf(l: Locator): Promise<string> {
  await l.waitFor(T);
  return (await l.textContent()) ?? '';
}

async function pick(p: Page, dialog: Locator, label: string, option: string): Promise<void> {
  await byLabel(dialog, label).click();
  await p.getByRole('option', { name: option, exact: true }).click();
}

/** Groups, Networks, Schedules, Nodes and Users pages against a real DLS, as admin and as a viewer. */
describe('admin pages (Chromium)', () => {
  let dls: DashboardDls;
  let browser: Browser;
  let admin: Page;
  let imageId: string;

  beforeAll(async () => {
    dls = await startDashboardDls();
    browser = await launchChromium();
    imageId = (await dls.api<{ id: string }>('POST', '/api/v1/images', { name: 'web-img', sizeBytes: 64 * 1024 * 1024, format: 'raw' })).id;
    admin = await (await newContext(browser, dls.url)).newPage();
    await admin.goto('/groups');
    await loginThroughForm(admin, 'admin', ADMIN_PASSWORD);
  }, 600_000);
  afterAll(async () => {
    await browser?.close();
    await dls?.stop();
  }, 120_000);

  it('groups: create with an image, member count, wake (counts), a stale edit reloads, a non-empty group refuses delete', async () => {
    const p = admin;
    await p.goto('/groups');
    await p.getByRole('button', { name: 'New group' }).click();
    const dialog = p.getByRole('dialog');
    await byLabel(dialog, 'Name').fill('lab-a');
    await pick(p, dialog, 'Image', 'web-img');
    await pick(p, dialog, 'Disk policy', 'persistent');
    await byLabel(dialog, 'Custom boot parameters').fill('quiet');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.waitFor({ state: 'hidden', ...T });
    const row = p.getByTestId('group-row-lab-a');
    await row.getByText('web-img').waitFor(T);
    await row.getByText('persistent').waitFor(T);
    expect(await textOf(row.getByTestId('member-count'))).toBe('0 clients');
    const groups = await dls.api<{ items: { id: string; name: string; imageId: string; bootParams: string }[] }>('GET', '/api/v1/client-groups');
    const labA = groups.items.find((g) => g.name === 'lab-a')!;
    expect(labA).toMatchObject({ imageId, bootParams: 'quiet' });
    expect(await row.getByTestId('member-count').getAttribute('href')).toBe(`/clients?groupId=${labA.id}`);

    // A duplicate name: the API's 409 appears by the name field.
    await p.getByRole('button', { name: 'New group' }).click();
    await byLabel(dialog, 'Name').fill('lab-a');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const dup = await fieldError(dialog, 'Name');
    expect(dup).toMatch(/lab-a|taken|exists/i);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    // Wake: a group with no members answers 0/0/0.
    await row.getByRole('button', { name: 'Wake lab-a' }).click();
    const wake = p.getByTestId('wake-result');
    await wake.getByText('0 members').waitFor(T);
    await wake.getByText('0 sent').waitFor(T);
    await wake.getByText('0 failed').waitFor(T);
    await p.keyboard.press('Escape');
    await wake.waitFor({ state: 'hidden', ...T });

    // A stale edit: someone else saves between opening the form and saving it.
    await row.getByRole('button', { name: 'Edit lab-a' }).click();
    await dls.api('PATCH', `/api/v1/client-groups/${labA.id}`, { bootParams: 'quiet splash' });
    await byLabel(dialog, 'Description').fill('room A');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await p.getByTestId('stale-alert').waitFor(T);
    expect(await byLabel(dialog, 'Custom boot parameters').inputValue()).toBe('quiet splash');
    await byLabel(dialog, 'Description').fill('room A');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'hidden', ...T });
    await row.getByText('room A').waitFor(T);

    // A member makes delete refuse with the API's 409 message, shown in the dialog; the count links to the clients.
    await dls.api('POST', '/api/v1/clients', { hostname: 'pc-web-1', macAddress: '52:54:00:aa:bb:01', groupId: labA.id });
    await row.getByTestId('member-count').filter({ hasText: '1 client' }).waitFor(T);
    // (axe below also checks the dialog; a toast left under its overlay would read as low contrast: let them go.)
    await p.waitForFunction(() => document.querySelectorAll('.mantine-Notification-root').length === 0, null, T);
    await row.getByRole('button', { name: 'Delete lab-a' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    expect(await textOf(p.getByTestId('delete-error'))).toMatch(/client/i);
    expect(await axe(p)).toEqual([]);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    await p.getByRole('button', { name: 'Wake lab-a' }).click();
    await wake.getByText('1 members').waitFor(T);
    await wake.getByText('1 failed').waitFor(T);
    await wake.getByText(/WAKE_NO_RANGE/).waitFor(T);
    await p.keyboard.press('Escape');

    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'admin-groups');
  });

  it('networks: the API names the bad field (pool holding the gateway, overlap), a good range shows 0 in use and no leases', async () => {
    const p = admin;
    await p.goto('/networks');
    await p.getByRole('button', { name: 'New range' }).click();
    const dialog = p.getByRole('dialog');
    await byLabel(dialog, 'Name').fill('lab-net');
    await byLabel(dialog, 'Network (CIDR)').fill('10.77.0.0/24');
    await byLabel(dialog, 'Interface').fill('dls-web0');
    await byLabel(dialog, 'Gateway').fill('10.77.0.1');
    await byLabel(dialog, 'Pool start').fill('10.77.0.1');
    await byLabel(dialog, 'Pool end').fill('10.77.0.50');
    await byLabel(dialog, 'DNS servers').fill('10.77.0.1, 1.1.1.1');
    await dialog.getByRole('button', { name: 'Create' }).click();
    // The pool includes the network address (poolStart) and the gateway (gateway): each message by its field.
    expect(await fieldError(dialog, 'Gateway')).toMatch(/pool 10\.77\.0\.1-10\.77\.0\.50 includes the gateway 10\.77\.0\.1/);
    expect(await isInvalid(dialog, 'Pool start')).toBe(false);
    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'admin-networks-bad-pool');

    // An invalid CIDR: the DTO's 400 names cidr.
    await byLabel(dialog, 'Network (CIDR)').fill('10.77.0.0/33');
    await dialog.getByRole('button', { name: 'Create' }).click();
    expect(await fieldError(dialog, 'Network (CIDR)')).toMatch(/cidr/i);

    await byLabel(dialog, 'Network (CIDR)').fill('10.77.0.0/24');
    await byLabel(dialog, 'Pool start').fill('10.77.0.100');
    await byLabel(dialog, 'Pool end').fill('10.77.0.150');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.waitFor({ state: 'hidden', ...T });
    const row = p.getByTestId('range-row-lab-net');
    await row.getByText('dls-web0').waitFor(T);
    const util = row.getByTestId('utilisation');
    await util.waitFor(T);
    expect(await util.getAttribute('data-in-use')).toBe('0');
    expect(await util.getAttribute('data-size')).toBe('51');
    await row.getByText('0 in use / 51').waitFor(T);

    await row.getByRole('button', { name: 'Leases of lab-net' }).click();
    await p.getByTestId('no-leases').waitFor(T);

    // An overlapping range: 409 NETWORK_RANGE_OVERLAP by the CIDR field.
    await p.getByRole('button', { name: 'New range' }).click();
    await byLabel(dialog, 'Name').fill('lab-net-2');
    await byLabel(dialog, 'Network (CIDR)').fill('10.77.0.128/25');
    await dialog.getByRole('button', { name: 'Create' }).click();
    expect(await fieldError(dialog, 'Network (CIDR)')).toMatch(/overlaps network range "lab-net"/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    // A range naming an interface that does not exist binds nothing: readiness reports it unavailable.
    const ready = await fetch(`${dls.url}/api/v1/health/ready`);
    const body = (await ready.json()) as Record<string, unknown>;
    process.stdout.write(`health/ready with range on dls-web0: ${ready.status} ${JSON.stringify(body)}\n`);
    expect(JSON.stringify(body)).toContain('dls-web0');

    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'admin-networks');
  });

  it('schedules: the API names a bad cron; days + time + zone create a schedule with a next run; disable', async () => {
    const p = admin;
    await p.goto('/schedules');
    await p.getByRole('button', { name: 'New schedule' }).click();
    const dialog = p.getByRole('dialog');
    await pick(p, dialog, 'Group', 'lab-a');
    await dialog.getByText('Cron expression').click();
    await byLabel(dialog, 'Cron').fill('61 7 * * *');
    await dialog.getByRole('button', { name: 'Create' }).click();
    expect(await fieldError(dialog, 'Cron')).toMatch(/cron/i);

    await dialog.getByText('Days and time').click();
    await byLabel(dialog, 'Sat').check();
    await byLabel(dialog, 'Time').fill('06:30');
    await byLabel(dialog, 'Time zone').fill('Europe/Berl');
    await p.getByRole('option', { name: 'Europe/Berlin' }).click();
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.waitFor({ state: 'hidden', ...T });
    const row = p.getByTestId('schedule-row-lab-a');
    await row.getByText('Mon–Sat 06:30').waitFor(T);
    await row.getByText('Europe/Berlin').waitFor(T);
    const cells = await row.locator('td').allTextContents();
    expect(cells[4]).not.toBe('—');

    const toggle = row.getByRole('switch', { name: /Enabled: lab-a/ });
    await toggle.click({ force: true });
    await p.waitForFunction(() => document.querySelector('[data-testid="schedule-row-lab-a"] td:nth-child(5)')?.textContent === '—', null, T);
    const [s] = (await dls.api<{ items: { enabled: boolean; days: string[]; time: string; timezone: string }[] }>('GET', '/api/v1/wake-schedules'))
      .items;
    expect(s).toMatchObject({ enabled: false, days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], time: '06:30', timezone: 'Europe/Berlin' });

    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'admin-schedules');
  });

  it('users: a weak password shows the policy message by the field; a good one creates; the last admin cannot demote itself', async () => {
    const p = admin;
    await p.goto('/users');
    await p.getByRole('button', { name: 'New user' }).click();
    const dialog = p.getByRole('dialog');
    await byLabel(dialog, 'Username').fill('web-operator');
    await byLabel(dialog, 'Password').fill('password1');
    await pick(p, dialog, 'Role', 'operator (clients, images, groups, wake)');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const weak = await fieldError(dialog, 'Password');
    expect(weak).toMatch(/too easy to guess/);
    process.stdout.write(`weak password message: ${weak}\n`);
    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'admin-users-weak-password');

    await byLabel(dialog, 'Password').fill('Lantern-orbit-47-quietly');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.waitFor({ state: 'hidden', ...T });
    const row = p.getByTestId('user-row-web-operator');
    await row.getByText('operator', { exact: true }).waitFor(T);
    expect((await dls.login('web-operator', 'Lantern-orbit-47-quietly')).length).toBeGreaterThan(10);
    // A login updates the user row (lastLoginAt, and so its version): reload so the edits below start from it.
    await p.reload();
    await row.getByText('just now').waitFor(T);

    // Own row: no delete button; demoting the only admin: the API's 409 LAST_ADMIN message.
    const mine = p.getByTestId('user-row-admin');
    expect(await mine.getByRole('button', { name: 'Delete admin' }).count()).toBe(0);
    await mine.getByRole('button', { name: 'Edit admin' }).click();
    await pick(p, dialog, 'Role', 'viewer (reads everything)');
    await dialog.getByRole('button', { name: 'Save' }).click();
    expect(await textOf(p.getByTestId('form-error'))).toMatch(/last/i);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    // Disable, then delete the operator.
    await row.getByRole('button', { name: 'Edit web-operator' }).click();
    await byLabel(dialog, 'Enabled (may log in)').click({ force: true });
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'hidden', ...T }).catch(async (e: unknown) => {
      process.stdout.write(`edit dialog stayed: ${await dialog.innerText()}\n`);
      throw e;
    });
    await row.getByText('no (cannot log in)').waitFor(T);
    await row.getByRole('button', { name: 'Delete web-operator' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await row.waitFor({ state: 'detached', ...T });
    // The confirmation closes with a fade: checked mid-way, its half-transparent text fails axe's contrast rule.
    await dialog.waitFor({ state: 'hidden', ...T });

    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'admin-users');
  });

  it('nodes: this DLS is listed up; drain shows it drained (no running clients), activate brings it back; no remove while it lives', async () => {
    const p = admin;
    await p.goto('/nodes');
    const table = p.getByTestId('nodes-table');
    const row = table.locator('tbody tr').first();
    await row.getByTestId('node-state').waitFor(T);
    expect(await table.locator('tbody tr').count()).toBe(1);
    expect(await textOf(row)).toMatch(/this node/);
    expect(await textOf(row.getByTestId('node-state'))).toBe('up');
    expect(await textOf(row.getByTestId('node-versions'))).toBe('—'); // the one image here has no version yet
    expect(await row.getByRole('button', { name: 'Remove' }).count()).toBe(0);
    await row.getByRole('button', { name: 'Drain' }).click();
    await row.getByTestId('node-state').filter({ hasText: 'drained' }).waitFor(T);
    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'admin-nodes-drained');
    await row.getByRole('button', { name: 'Activate' }).click();
    await row.getByTestId('node-state').filter({ hasText: 'up' }).waitFor(T);
    await row.getByRole('button', { name: 'Drain' }).waitFor(T);
  });

  it('a viewer sees the lists without write buttons, and /users says 403 instead of crashing', async () => {
    const password = await dls.createUser('web-viewer', 'viewer');
    const p = await (await newContext(browser, dls.url)).newPage();
    await p.goto('/groups');
    await loginThroughForm(p, 'web-viewer', password);
    await p.getByTestId('group-row-lab-a').waitFor(T);
    expect(await p.getByRole('button', { name: /New group|Edit|Wake|Delete/ }).count()).toBe(0);
    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'admin-groups-viewer');

    await p.goto('/networks');
    await p.getByTestId('range-row-lab-net').getByTestId('utilisation').waitFor(T);
    expect(await p.getByRole('button', { name: /New range|Edit|Delete/ }).count()).toBe(0);
    await p.getByRole('button', { name: 'Leases of lab-net' }).click();
    await p.getByTestId('no-leases').waitFor(T);
    expect(await axe(p)).toEqual([]);

    await p.goto('/schedules');
    await p.getByTestId('schedule-row-lab-a').waitFor(T);
    expect(await p.getByRole('button', { name: /New schedule|Edit|Delete/ }).count()).toBe(0);
    expect(await p.getByRole('switch').count()).toBe(0);
    expect(await axe(p)).toEqual([]);

    await p.goto('/nodes');
    await p.getByTestId('nodes-table').getByTestId('node-state').first().waitFor(T);
    expect(await p.getByRole('button', { name: /Drain|Activate|Remove/ }).count()).toBe(0);
    expect(await axe(p)).toEqual([]);

    await p.goto('/users');
    expect(await textOf(p.getByTestId('forbidden'))).toMatch(/admin/);
    expect(await p.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Users' }).count()).toBe(0);
    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'admin-users-viewer');
    await p.context().close();
  });
});
