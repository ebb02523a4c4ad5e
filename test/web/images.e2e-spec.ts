import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import {
  accessibilityViolations,
  ADMIN_PASSWORD,
  DashboardDls,
  freshDir,
  launchChromium,
  loginThroughForm,
  newContext,
  screenshot,
  startDashboardDls,
} from './dashboard-harness';

jest.setTimeout(300_000);
const T = { timeout: 60_000 };

/** axe on a settled page: the live stream open (its badge's colour is the final one), no notification fading in or out. */
async function axe(p: Page): Promise<string[]> {
  await p.locator('[data-testid="stream-status"][data-status="open"]').waitFor(T);
  await p.locator('.mantine-Notification-root').first().waitFor({ state: 'detached', timeout: 30_000 });
  return accessibilityViolations(p);
}

interface Image {
  id: string;
  name: string;
  contentStatus: string;
  version: number;
}
interface Version {
  id: string;
  name: string;
  isPublished: boolean;
}

/**
 * Images and Storage pages: create (and a refused create with the API's message), upload with a bar of bytes sent
 * and the import's progress from events, versions (publish, roll back, deletes refused and explained), the
 * maintenance flow, the storage gauge and a dry-run reconcile; a viewer sees no write controls; axe on each page.
 */
describe('images and storage pages (Chromium)', () => {
  let dls: DashboardDls;
  let browser: Browser;
  let admin: Page;
  let image: Image;
  const versions = () => dls.api<{ items: Version[] }>('GET', `/api/v1/images/${image.id}/snapshots`).then((r) => r.items);

  beforeAll(async () => {
    dls = await startDashboardDls();
    browser = await launchChromium();
    admin = await (await newContext(browser, dls.url)).newPage();
    admin.on('dialog', (d) => void d.accept());
    await admin.goto('/images');
    await loginThroughForm(admin, 'admin', ADMIN_PASSWORD);
    await admin.locator('[data-testid="stream-status"][data-status="open"]').waitFor(T);
  }, 600_000);
  afterAll(async () => {
    await browser?.close();
    await dls?.stop();
  }, 120_000);

  it('a bad name is refused with the API message naming the field; a good one creates the image', async () => {
    const p = admin;
    await p.getByRole('button', { name: 'New image' }).click();
    const dialog = p.getByRole('dialog', { name: 'New image' });
    await dialog.getByRole('button', { name: 'Create image' }).click();
    const err = dialog.getByTestId('create-image-error');
    await err.waitFor(T);
    expect(await err.textContent()).toMatch(/VALIDATION_FAILED.*name/s);
    await dialog.getByLabel('Name').fill('x'.repeat(256));
    await dialog.getByRole('button', { name: 'Create image' }).click();
    await err.filter({ hasText: /name must be shorter than or equal to 255/ }).waitFor(T);
    await screenshot(p, 'images-create-refused');

    await dialog.getByLabel('Name').fill('web-img');
    await dialog.getByLabel('OS type').fill('linux');
    await dialog.getByRole('button', { name: 'Create image' }).click();
    await p.getByRole('heading', { name: 'web-img', level: 2 }).waitFor(T);
    image = (await dls.api<{ items: Image[] }>('GET', '/api/v1/images?q=web-img')).items[0];
    expect(new URL(p.url()).pathname).toBe(`/images/${image.id}`);
    await p.getByRole('link', { name: '← Images' }).click();
    const row = p.getByTestId('image-row-web-img');
    await row.waitFor(T);
    expect(await row.textContent()).toContain('linux');
    expect(await row.getByTestId('content-status').getAttribute('data-status')).toBe('empty');
    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'images');
  });

  it('uploads a disk with a moving bar of bytes sent, then follows the import from events until ready', async () => {
    const p = admin;
    await p.goto(`/images/${image.id}`);
    await p.getByRole('heading', { name: 'Content' }).waitFor(T);
    // 8 MiB, each 512-byte sector stamped with its number, so a wrong or shifted byte would show.
    const size = 8 * 1024 * 1024;
    const disk = Buffer.alloc(size);
    for (let s = 0; s < size / 512; s++) disk.write(`DLS-WEB-SECTOR-${String(s).padStart(8, '0')}`, s * 512, 'ascii');
    const file = join(freshDir('dls-web-upload-'), 'web-disk.img');
    writeFileSync(file, disk);

    // Throttle the upload (2 MiB/s) so the bar's steps are visible, and record every value the bar shows.
    const cdp = await p.context().newCDPSession(p);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2 * 1024 * 1024 });
    // (page-side script as a string: the test's TypeScript has no DOM types)
    await p.evaluate(`(() => {
      window.seen = [];
      new MutationObserver(() => {
        const bar = document.querySelector('[data-testid="upload-progress"]');
        const v = bar ? Number(bar.getAttribute('data-value')) : NaN;
        if (!Number.isNaN(v) && window.seen[window.seen.length - 1]?.v !== v) window.seen.push({ v, t: performance.now() });
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-value'] });
    })()`);
    await p.locator('input[type="file"]').setInputFiles(file);
    await p.getByRole('button', { name: 'Upload', exact: true }).click();
    await p.getByText('Import finished: the content is ready').waitFor(T);
    await p.locator('[data-testid="content-status"][data-status="ready"]').waitFor(T);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

    const seen = await p.evaluate<{ v: number; t: number }[]>('window.seen');
    const below = [...new Set(seen.map((s) => s.v).filter((v) => v > 0 && v < 100))];
    expect(below.length).toBeGreaterThan(1);
    expect(seen[seen.length - 1].v).toBe(100);
    expect(await p.getByTestId('import-progress').getAttribute('data-value')).toBe('100');
    const first = seen.find((s) => s.v > 0)!;
    const last = seen[seen.length - 1];
    const mibps = (((last.v - first.v) / 100) * size) / 1024 / 1024 / ((last.t - first.t) / 1000);
    console.log(`upload: ${seen.length} bar values, ${below.length} distinct below 100%; ~${mibps.toFixed(2)} MiB/s (throttled to 2 MiB/s)`);
    const after = await dls.api<Image & { sizeBytes: number }>('GET', `/api/v1/images/${image.id}`);
    expect(after).toMatchObject({ contentStatus: 'ready', sizeBytes: size });
    await screenshot(p, 'image-uploaded');
  });

  it('makes and publishes versions, rolls back, and explains a refused delete of the published version', async () => {
    const p = admin;
    const make = async (name: string) => {
      await p.getByLabel('New version name').fill(name);
      await p.getByRole('button', { name: 'Make version' }).click();
      await p.getByTestId(`version-row-${name}`).waitFor(T);
    };
    const published = (name: string) => p.locator(`[data-testid="version-row-${name}"][data-published="true"]`).waitFor(T);
    await make('v1');
    await p.getByTestId('version-row-v1').getByRole('button', { name: 'Publish' }).click();
    await published('v1');
    await make('v2');
    await p.getByTestId('version-row-v2').getByRole('button', { name: 'Publish' }).click();
    await published('v2');
    await p.getByTestId('version-row-v1').getByRole('button', { name: 'Roll back to this' }).click();
    await published('v1');
    expect((await versions()).find((v) => v.isPublished)?.name).toBe('v1');

    await p.getByRole('button', { name: 'Delete version v1' }).click();
    const refused = p.getByTestId('delete-refused');
    await refused.waitFor(T);
    expect(await refused.textContent()).toMatch(/409 PUBLISHED_VERSION.*published version.*publish another version first/is);
    await refused.getByRole('button', { name: 'Dismiss' }).click();
  });

  it('explains a delete refused because a client disk uses the version, naming the client', async () => {
    const p = admin;
    const v2 = (await versions()).find((v) => v.name === 'v2')!;
    const client = await dls.api<{ id: string }>('POST', '/api/v1/clients', {
      macAddress: '52:54:00:aa:bb:01',
      hostname: 'pc-web-01',
      assignedImageId: image.id,
      pinnedSnapshotId: v2.id,
    });
    await dls.api('PUT', `/api/v1/clients/${client.id}/disk`);
    await p.getByRole('button', { name: 'Delete version v2' }).click();
    const refused = p.getByTestId('delete-refused');
    await refused.filter({ hasText: 'VERSION_IN_USE' }).waitFor(T);
    expect(await refused.textContent()).toMatch(/Used by 1 client/);
    const listed = refused.getByTestId('in-use-clients');
    expect(await listed.textContent()).toContain('pc-web-01');
    // The 409's details give the clients' ids: each is a link to its page.
    expect(await listed.getByRole('link', { name: 'pc-web-01' }).getAttribute('href')).toBe(`/clients/${client.id}`);
    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'image-versions-in-use');
    expect((await versions()).map((v) => v.name).sort()).toEqual(['v1', 'v2']);
  });

  it('an edit against a version changed elsewhere is refused with "changed elsewhere, reload"', async () => {
    const p = admin;
    await p.getByRole('button', { name: 'Edit' }).click();
    const dialog = p.getByRole('dialog');
    await dialog.getByLabel('Description').fill('from the browser');
    await dls.api('PATCH', `/api/v1/images/${image.id}`, { description: 'from elsewhere' });
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.getByTestId('edit-conflict').waitFor(T);
    await dialog.getByRole('button', { name: 'Reload' }).click();
    await p.getByText('from elsewhere').waitFor(T);
    await p.getByRole('button', { name: 'Edit' }).click();
    await p.getByRole('dialog').getByLabel('Description').fill('from the browser');
    await p.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
    await p.getByText('from the browser').waitFor(T);
  });

  it('maintenance: choose a client, boot it, commit its disk as a version, publish it, end maintenance', async () => {
    const p = admin;
    const client = await dls.api<{ id: string }>('POST', '/api/v1/clients', {
      macAddress: '52:54:00:aa:bb:02',
      hostname: 'pc-web-maint',
      assignedImageId: image.id,
    });
    const box = p.getByTestId('maintenance');
    await box.getByLabel('Maintenance client').click();
    await box.getByLabel('Maintenance client').fill('pc-web-m');
    await p.getByRole('option', { name: /pc-web-maint/ }).click();
    await box.getByRole('button', { name: 'Start maintenance' }).click();
    await box.getByRole('button', { name: 'Wake pc-web-maint' }).waitFor(T);
    await p.getByText('in maintenance').waitFor(T);
    await screenshot(p, 'image-maintenance');
    // The client "boots": its maintenance disk is made as the boot plane would.
    await dls.api('PUT', `/api/v1/clients/${client.id}/disk`);
    await box.getByRole('button', { name: 'Changes done: commit next' }).click();
    await box.getByLabel('Name of the committed version').fill('v3-maint');
    await box.getByRole('button', { name: 'Commit version' }).click();
    await box.getByRole('button', { name: 'Publish v3-maint' }).click();
    await box.getByText('v3-maint is published').waitFor(T);
    await p.locator('[data-testid="version-row-v3-maint"][data-published="true"]').waitFor(T);
    await box.getByRole('button', { name: 'End maintenance' }).click();
    await box.getByRole('button', { name: 'Start maintenance' }).waitFor(T);
    expect((await dls.api<{ maintenanceClientId: string | null }>('GET', `/api/v1/images/${image.id}`)).maintenanceClientId).toBeNull();
    // Deleting the image is refused while clients use it and it has versions: the 409 is on screen, not just a toast.
    await p.getByRole('button', { name: 'Delete image' }).click();
    const refused = p.getByTestId('delete-refused').filter({ hasText: 'Image web-img was not deleted (409' });
    await refused.waitFor(T);
    await refused.getByRole('button', { name: 'Dismiss' }).click();
    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'image');
  });

  it('Storage shows the driver, the gauge and usage; a dry-run reconcile finds nothing to remove', async () => {
    const p = admin;
    await p.goto('/storage');
    const driver = p.getByTestId('storage-driver');
    await driver.waitFor(T);
    const status = await dls.api<{ driver: string; cloneMethod: string }>('GET', '/api/v1/storage');
    expect(await driver.textContent()).toContain(status.driver === 'zfs' ? 'ZFS' : 'dir');
    expect(await p.getByTestId('clone-method').textContent()).toBe(status.cloneMethod);
    await p.getByTestId('space-gauge').waitFor(T);
    await p.getByTestId('image-usage').getByRole('link', { name: 'web-img' }).waitFor(T);
    await p.getByTestId('client-disk-usage').getByRole('link', { name: 'pc-web-01' }).waitFor(T);
    await p.getByRole('button', { name: 'Dry run' }).click();
    await p.getByText('Dry run: nothing to remove').waitFor(T);
    expect(await p.getByTestId('orphans-table').textContent()).toContain('none');
    expect(await p.getByRole('button', { name: /Remove \d+ orphan/ }).count()).toBe(0);
    expect(await axe(p)).toEqual([]);
    await p.evaluate('window.scrollTo(0, 0)');
    await screenshot(p, 'storage');
  });

  it('a viewer sees the pages without create, upload, publish, delete, maintenance or reconcile controls', async () => {
    const password = await dls.createUser('images-viewer', 'viewer');
    const p = await (await newContext(browser, dls.url)).newPage();
    await p.goto('/images');
    await loginThroughForm(p, 'images-viewer', password);
    await p.getByTestId('image-row-web-img').waitFor(T);
    expect(await p.getByRole('button', { name: 'New image' }).count()).toBe(0);
    expect(await axe(p)).toEqual([]);

    await p.goto(`/images/${image.id}`);
    await p.getByTestId('version-row-v1').waitFor(T);
    for (const name of [/^Edit$/, /Delete/, /Upload/, /Publish/, /Roll back/, /Make version/, /maintenance/i, /blank/i, /^Import$/]) {
      expect(await p.getByRole('button', { name }).count()).toBe(0);
    }
    expect(await p.locator('input[type="file"]').count()).toBe(0);
    expect(await p.getByTestId('maintenance').count()).toBe(0);
    expect(await axe(p)).toEqual([]);
    await screenshot(p, 'image-viewer');

    await p.goto('/storage');
    await p.getByTestId('storage-driver').waitFor(T);
    expect(await p.getByRole('button', { name: 'Dry run' }).count()).toBe(0);
    expect(await p.getByTestId('reconcile').count()).toBe(0);
    await p.context().close();
  });
});
