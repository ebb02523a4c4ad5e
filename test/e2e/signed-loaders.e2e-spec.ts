/**
 * The operator's signed loaders for Secure Boot clients (issue 13: "let an operator provide signed loaders per
 * architecture through the API, and make the boot policy use them"), against real PostgreSQL and a real boot files
 * root. Uploads are Debian's real files: the Microsoft-signed shim and Debian-signed GRUB pass; Debian's unsigned
 * ipxe.efi, a BIOS loader, a loader filed under the wrong CPU, a path in the name and an oversized body are refused
 * with a 400 naming the reason, and leave neither a row nor a file behind.
 */
import { createHash } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { SignedLoadersService } from '../../src/modules/pxe-boot/signed-loaders/signed-loaders.service';
import { createTestApp, TestApp } from '../support/test-app';

const SHIM = readFileSync('/usr/lib/shim/shimx64.efi.signed');
const GRUB = readFileSync('/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed');
const IPXE = readFileSync('/usr/lib/ipxe/ipxe.efi');
const UNDI = readFileSync('/usr/lib/ipxe/undionly.kpxe');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('signed loaders (/api/v1/signed-loaders)', () => {
  let t: TestApp;
  let admin: string;
  let operator: string;
  let viewer: string;
  let loaders: SignedLoadersService;
  const put = (token: string, url: string, body: Buffer, type = 'application/octet-stream') =>
    t.http.put(url).set('Authorization', `Bearer ${token}`).set('Content-Type', type).send(body);
  const rowCount = async () => Number((await t.app.get(DataSource).query('SELECT count(*)::int AS n FROM signed_loader_files'))[0].n);
  const signedDir = () => path.join(t.config.tftp.root, 'signed');
  const filesIn = async (platform: string) => (await fs.readdir(path.join(signedDir(), platform)).catch(() => [] as string[])).sort();

  beforeAll(async () => {
    t = await createTestApp();
    admin = t.adminToken;
    operator = await t.tokenFor('operator');
    viewer = await t.tokenFor('viewer');
    loaders = t.app.get(SignedLoadersService);
  });
  afterAll(() => t?.close());

  it('keeps a signed shim and the loader it starts, serves their bytes from the boot files root, and DHCP uses the entry', async () => {
    expect(loaders.entryFor('x64')).toBeNull();
    const shim = await put(admin, '/api/v1/signed-loaders/x64/shimx64.efi?entry=true', SHIM);
    expect(shim.status).toBe(200);
    expect(shim.body).toMatchObject({
      platform: 'x64',
      name: 'shimx64.efi',
      path: 'signed/x64/shimx64.efi',
      sha256: sha(SHIM),
      sizeBytes: SHIM.length,
      entry: true,
      state: 'ok',
    });
    const grub = await put(admin, '/api/v1/signed-loaders/x64/grubx64.efi', GRUB, 'application/efi');
    expect(grub.status).toBe(200);
    expect(grub.body).toMatchObject({ entry: false, state: 'ok', path: 'signed/x64/grubx64.efi' });
    expect(await fs.readFile(path.join(signedDir(), 'x64', 'shimx64.efi'))).toEqual(SHIM);
    expect(await fs.readFile(path.join(signedDir(), 'x64', 'grubx64.efi'))).toEqual(GRUB);
    expect(await filesIn('x64')).toEqual(['grubx64.efi', 'shimx64.efi']); // no temp file left
    expect(loaders.entryFor('x64')).toBe('signed/x64/shimx64.efi');
    expect(loaders.entryFor('arm64')).toBeNull();

    const list = await t.http.get('/api/v1/signed-loaders').set('Authorization', `Bearer ${viewer}`);
    expect(list.status).toBe(200);
    expect(list.body.map((l: { path: string; entry: boolean }) => [l.path, l.entry])).toEqual([
      ['signed/x64/grubx64.efi', false],
      ['signed/x64/shimx64.efi', true],
    ]);
  });

  it('moves the entry, reports a file changed or removed behind its back, and stops using it', async () => {
    const current = await t.http.get('/api/v1/signed-loaders/x64/grubx64.efi').set('Authorization', `Bearer ${viewer}`);
    const stale = await t.http
      .patch('/api/v1/signed-loaders/x64/grubx64.efi')
      .set('Authorization', `Bearer ${admin}`)
      .set('If-Match', `"${current.body.version + 1}"`)
      .send({ entry: true });
    expect(stale.status).toBe(412); // an edit of a version that is not the current one
    expect(loaders.entryFor('x64')).toBe('signed/x64/shimx64.efi');
    const moved = await t.http
      .patch('/api/v1/signed-loaders/x64/grubx64.efi')
      .set('Authorization', `Bearer ${admin}`)
      .set('If-Match', current.headers.etag)
      .send({ entry: true });
    expect(moved.status).toBe(200);
    expect(moved.body.entry).toBe(true);
    expect(loaders.entryFor('x64')).toBe('signed/x64/grubx64.efi');
    expect((await t.http.get('/api/v1/signed-loaders/x64/shimx64.efi').set('Authorization', `Bearer ${viewer}`)).body.entry).toBe(false);

    await fs.writeFile(path.join(signedDir(), 'x64', 'grubx64.efi'), Buffer.from('tampered'));
    const changed = await t.http.get('/api/v1/signed-loaders/x64/grubx64.efi').set('Authorization', `Bearer ${viewer}`);
    expect(changed.body.state).toBe('changed');
    // A restart (here: the start-up check again) does not hand out a file whose bytes are not the upload's.
    await loaders.onApplicationBootstrap();
    const again = await t.http.patch('/api/v1/signed-loaders/x64/grubx64.efi').set('Authorization', `Bearer ${admin}`).send({ entry: true });
    expect(again.body.state).toBe('changed');
    expect(loaders.entryFor('x64')).toBeNull();
    // Uploading it again repairs it and keeps it the entry.
    const repaired = await put(admin, '/api/v1/signed-loaders/x64/grubx64.efi', GRUB);
    expect(repaired.body).toMatchObject({ entry: true, state: 'ok' });
    expect(loaders.entryFor('x64')).toBe('signed/x64/grubx64.efi');

    await fs.rm(path.join(signedDir(), 'x64', 'shimx64.efi'));
    expect((await t.http.get('/api/v1/signed-loaders/x64/shimx64.efi').set('Authorization', `Bearer ${viewer}`)).body.state).toBe('missing');
  });

  it('removes a loader with its file; removing the entry falls back to no operator loader', async () => {
    expect((await t.http.delete('/api/v1/signed-loaders/x64/grubx64.efi').set('Authorization', `Bearer ${admin}`)).status).toBe(204);
    expect(loaders.entryFor('x64')).toBeNull();
    expect(await filesIn('x64')).toEqual([]);
    expect((await t.http.delete('/api/v1/signed-loaders/x64/shimx64.efi').set('Authorization', `Bearer ${admin}`)).status).toBe(204);
    expect(await rowCount()).toBe(0);
    const gone = await t.http.get('/api/v1/signed-loaders/x64/shimx64.efi').set('Authorization', `Bearer ${viewer}`);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('SIGNED_LOADER_NOT_FOUND');
  });

  it.each([
    ['an unsigned EFI program (Debian ipxe.efi)', 'x64', 'ipxe.efi', IPXE, 'SIGNED_LOADER_UNSIGNED'],
    ['a BIOS loader', 'x64', 'undionly.efi', UNDI, 'SIGNED_LOADER_NOT_EFI'],
    ['an x64 shim filed under arm64', 'arm64', 'shimaa64.efi', SHIM, 'SIGNED_LOADER_WRONG_PLATFORM'],
    ['an empty body', 'x64', 'empty.efi', Buffer.alloc(0), 'UPLOAD_EMPTY'],
    ['a truncated shim', 'x64', 'cut.efi', SHIM.subarray(0, 200), 'SIGNED_LOADER_NOT_EFI'],
  ])('refuses %s with a 400 naming the reason, keeping nothing', async (_what, platform, name, body, code) => {
    const r = await put(admin, `/api/v1/signed-loaders/${platform}/${name}`, body);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe(code);
    expect(await rowCount()).toBe(0);
    expect(await filesIn(platform)).toEqual([]);
  });

  it('refuses bad names and CPUs, JSON bodies and bodies over 32 MiB', async () => {
    for (const url of [
      '/api/v1/signed-loaders/x64/..%2F..%2Fetc%2Fpasswd.efi',
      '/api/v1/signed-loaders/x64/.hidden.efi',
      '/api/v1/signed-loaders/x64/shim.exe',
      `/api/v1/signed-loaders/x64/${'a'.repeat(70)}.efi`,
      '/api/v1/signed-loaders/riscv64/shim.efi',
    ]) {
      const r = await put(admin, url, SHIM);
      expect({ url, status: r.status, code: r.body.code }).toEqual({ url, status: 400, code: 'VALIDATION_FAILED' });
      expect(r.body.message).toMatch(/platform|name/);
    }
    const json = await t.http.put('/api/v1/signed-loaders/x64/shim.efi').set('Authorization', `Bearer ${admin}`).send({ a: 1 });
    expect(json.status).toBe(400);
    expect(json.body.code).toBe('BAD_CONTENT_TYPE');
    // Refused from its declared length, before the body is read.
    const big = await request(t.app.getHttpServer())
      .put('/api/v1/signed-loaders/x64/big.efi')
      .set('Authorization', `Bearer ${admin}`)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.alloc(33 * 1024 * 1024));
    expect(big.status).toBe(400);
    expect(big.body.code).toBe('SIGNED_LOADER_TOO_LARGE');
    expect(await rowCount()).toBe(0);
    const patchBad = await t.http.patch('/api/v1/signed-loaders/x64/none.efi').set('Authorization', `Bearer ${admin}`).send({ entry: 'yes' });
    expect(patchBad.status).toBe(400);
  });

  it('only an admin uploads, changes or removes; viewers and operators read', async () => {
    expect((await put(operator, '/api/v1/signed-loaders/x64/shimx64.efi', SHIM)).status).toBe(403);
    expect((await put(viewer, '/api/v1/signed-loaders/x64/shimx64.efi', SHIM)).status).toBe(403);
    expect((await t.http.put('/api/v1/signed-loaders/x64/shimx64.efi').set('Content-Type', 'application/octet-stream').send(SHIM)).status).toBe(401);
    expect((await t.http.delete('/api/v1/signed-loaders/x64/shimx64.efi').set('Authorization', `Bearer ${operator}`)).status).toBe(403);
    expect((await t.http.get('/api/v1/signed-loaders').set('Authorization', `Bearer ${operator}`)).status).toBe(200);
    expect(await rowCount()).toBe(0);
  });
});
