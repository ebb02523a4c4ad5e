/**
 * Image content uploads and imports against what an attacker or an accident does (issue 9): a qcow2 that names a
 * server file as its external data file or backing file, imports of files outside DLS_IMPORT_DIR, a DELETE during
 * a running upload, a kill during an upload (its leftovers), and a chunked upload past the free-space guard.
 * Every case must end in a clear 4xx/507, with no hang, no half-written record and no leaked file.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client as PgClient } from 'pg';
import { DataSource } from 'typeorm';
import { StorageInventoryService } from '../../src/modules/catalog/inventory/storage-inventory.service';
import { SpaceGuard } from '../../src/modules/storage/space-guard';
import { createTestApp, TestApp } from '../support/test-app';

const run = promisify(execFile);
const MiB = 1024 * 1024;

interface Answer {
  status: number;
  body: { code?: string; message?: string; contentStatus?: string } & Record<string, unknown>;
}

/** Resolves with `value`, or rejects when `ms` pass first: every wait in this file has a deadline. */
function deadline<T>(what: string, ms: number, value: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([value, late]).finally(() => clearTimeout(timer));
}

/** Polls `probe` until it returns true (no sleeps in the test body: a short timer between probes, with a deadline). */
async function waitFor(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A PUT /content whose body the test writes piece by piece with chunked transfer encoding (no Content-Length),
 * the way `curl -T -` or a proxy that re-chunks sends it.
 */
function streamingUpload(port: number, token: string, imageId: string, format: string) {
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'PUT',
    path: `/api/v1/images/${imageId}/content?format=${format}`,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let body: Answer['body'];
        try {
          body = JSON.parse(text) as Answer['body'];
        } catch {
          body = { message: text };
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  const write = (chunk: Buffer) => new Promise<void>((resolve, reject) => req.write(chunk, (e) => (e ? reject(e) : resolve())));
  return { req, answer, write, end: () => req.end() };
}

async function stagingEntries(storageRoot: string, imageId: string): Promise<string[]> {
  return fs.readdir(path.join(storageRoot, 'images', imageId, '.staging')).catch(() => []);
}

describe('image content: uploads and imports (e2e)', () => {
  let t: TestApp;
  let work: string;
  let port: number;
  let auth: { Authorization: string };
  let storageRoot: string;
  let importDir: string;

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'dls-content-e2e-'));
    t = await createTestApp();
    auth = { Authorization: `Bearer ${t.adminToken}` };
    storageRoot = t.config.storage.dirRoot;
    importDir = t.config.storage.importDir;
    const server: http.Server = t.app.getHttpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await t?.close();
    await fs.rm(work, { recursive: true, force: true });
  });

  const createImage = async (name = `img-${randomBytes(4).toString('hex')}`) => {
    const r = await t.http
      .post('/api/v1/images')
      .set(auth)
      .send({ name, sizeBytes: 16 * MiB, format: 'raw' })
      .expect(201);
    return r.body.id as string;
  };
  const upload = (imageId: string, format: string, body: Buffer) =>
    t.http.put(`/api/v1/images/${imageId}/content?format=${format}`).set(auth).set('Content-Type', 'application/octet-stream').send(body);
  const image = async (id: string) =>
    (await t.http.get(`/api/v1/images/${id}`).set(auth).expect(200)).body as { contentStatus: string; path: string };

  /** A server file whose bytes must never reach an image. */
  const secretBytes = Buffer.alloc(MiB, 'DLS-SERVER-SECRET:');

  /** A qcow2 whose external data file (data_file_raw: its bytes are the disk) is `target`. */
  async function qcow2WithDataFile(name: string, target: string): Promise<string> {
    const file = path.join(work, name);
    const dummy = path.join(work, `${name}.data`);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${dummy},data_file_raw=on`, file, '1M']);
    await run('qemu-img', ['amend', '-q', '-f', 'qcow2', '-o', `data_file=${target}`, file]);
    await fs.rm(dummy, { force: true });
    return file;
  }

  describe('1. images that name other files', () => {
    let secret: string;
    beforeAll(async () => {
      secret = path.join(work, 'server-secret.bin');
      await fs.writeFile(secret, secretBytes);
    });

    it('refuses a qcow2 with an external data file (upload and import), reading nothing from it', async () => {
      const qcow = await qcow2WithDataFile('data-file.qcow2', secret);
      // the attack works on plain qemu-img: the data file's bytes come out as the disk
      const out = path.join(work, 'attack.raw');
      await run('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', qcow, out]);
      expect((await fs.readFile(out)).subarray(0, 18).toString()).toBe('DLS-SERVER-SECRET:');

      const id = await createImage();
      const r = await upload(id, 'qcow2', await fs.readFile(qcow));
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('STORAGE_IMAGE_FORMAT_INVALID');
      expect(r.body.message).toMatch(/external data file/);
      expect((await image(id)).contentStatus).toBe('empty');
      expect(await stagingEntries(storageRoot, id)).toEqual([]);
      await expect(fs.stat(path.join(storageRoot, 'images', id, 'disk.raw'))).rejects.toMatchObject({ code: 'ENOENT' });

      // declared raw, it is refused for what its header says it is
      const asRaw = await upload(id, 'raw', await fs.readFile(qcow));
      expect(asRaw.status).toBe(400);
      expect(asRaw.body.message).toMatch(/declared format raw but the file is qcow2/);

      await fs.copyFile(qcow, path.join(importDir, 'data-file.qcow2'));
      const imp = await t.http
        .post(`/api/v1/images/${id}/import`)
        .set(auth)
        .send({ path: path.join(importDir, 'data-file.qcow2'), format: 'qcow2' });
      expect(imp.status).toBe(400);
      expect(imp.body.message).toMatch(/external data file/);
      expect((await image(id)).contentStatus).toBe('empty');
    });

    it('refuses a qcow2 with a backing file, and a vhdx declared as qcow2', async () => {
      const overlay = path.join(work, 'overlay.qcow2');
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', secret, '-F', 'raw', overlay, '1M']);
      const id = await createImage();
      const r = await upload(id, 'qcow2', await fs.readFile(overlay));
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/backing file/);

      const vhdx = path.join(work, 'a.vhdx');
      await run('qemu-img', ['create', '-q', '-f', 'vhdx', vhdx, '8M']);
      const v = await upload(id, 'qcow2', await fs.readFile(vhdx));
      expect(v.status).toBe(400);
      expect(v.body.message).toMatch(/declared format qcow2 but the file is vhdx/);
      expect((await upload(id, 'vhdx', await fs.readFile(vhdx))).status).toBe(200);
    });
  });

  describe('2. imports come only from DLS_IMPORT_DIR', () => {
    let id: string;
    beforeAll(async () => {
      id = await createImage();
    });
    const importing = (p: string, format = 'raw') => t.http.post(`/api/v1/images/${id}/import`).set(auth).send({ path: p, format });

    it('creates the import directory at start, inside the data dir by default', async () => {
      expect(importDir).toBe(path.join(t.dataDir, 'import'));
      expect((await fs.stat(importDir)).isDirectory()).toBe(true);
    });

    it.each([
      ['/etc/shadow'],
      ['/etc/passwd'],
      ['<data>/secrets/boot-token-key'],
      ['<data>/postgres/credentials.json'],
      ['<import>/../secrets/boot-token-key'],
      ['<import>/../storage'],
    ])('refuses %s with 400 naming path', async (p) => {
      const abs = p.replace('<data>', t.dataDir).replace('<import>', importDir);
      const r = await importing(abs);
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('IMPORT_SOURCE_INVALID');
      expect(r.body.message).toMatch(/^path: /);
      expect((await image(id)).contentStatus).toBe('empty');
    });

    it('refuses a symlink out of the import dir, and a directory; 404 for a missing file', async () => {
      await fs.symlink('/etc/passwd', path.join(importDir, 'passwd.raw'));
      await fs.symlink(path.join(t.dataDir, 'secrets'), path.join(importDir, 'secrets'));
      await fs.mkdir(path.join(importDir, 'sub.raw'));
      for (const p of ['passwd.raw', 'secrets/boot-token-key', 'sub.raw']) {
        const r = await importing(path.join(importDir, p));
        expect(r.status).toBe(400);
        expect(r.body.message).toMatch(/^path: /);
      }
      const missing = await importing(path.join(importDir, 'nope.raw'));
      expect(missing.status).toBe(404);
      expect(missing.body.message).toMatch(/^path: .*does not exist/);
      // outside the import dir a missing file is a 400 too: the answer says nothing about the rest of the disk
      expect((await importing('/nonexistent/x.raw')).status).toBe(400);
    });

    it('imports a file in the import dir (and in a sub-directory of it)', async () => {
      const src = path.join(importDir, 'lab', 'disk.raw');
      await fs.mkdir(path.dirname(src), { recursive: true });
      const marker = randomBytes(16);
      const bytes = Buffer.alloc(4 * MiB);
      marker.copy(bytes, MiB);
      await fs.writeFile(src, bytes);
      const r = await importing(path.join(importDir, 'lab', '..', 'lab', 'disk.raw'));
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ contentStatus: 'ready', sizeBytes: 4 * MiB });
      const disk = await fs.readFile((await image(id)).path);
      expect(disk.subarray(MiB, MiB + 16).equals(marker)).toBe(true);
      expect((await fs.readFile(src)).equals(bytes)).toBe(true); // the source is untouched
      expect(await stagingEntries(storageRoot, id)).toEqual([]);
    });
  });

  describe('3. DELETE during an upload', () => {
    it('answers 409 at once; the upload completes; then DELETE works', async () => {
      const id = await createImage();
      const up = streamingUpload(port, t.adminToken, id, 'raw');
      await up.write(Buffer.alloc(MiB, 1));
      await waitFor('the upload to start', async () => (await image(id)).contentStatus === 'importing');

      const del = await deadline(
        'DELETE during the upload',
        10_000,
        t.http
          .delete(`/api/v1/images/${id}`)
          .set(auth)
          .then((r) => r),
      );
      expect(del.status).toBe(409);
      expect(del.body.code).toBe('IMPORT_IN_PROGRESS');
      expect(del.body.message).toMatch(/being imported/);

      await up.write(Buffer.alloc(MiB, 2));
      up.end();
      const done = await deadline('the upload', 30_000, up.answer);
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ contentStatus: 'ready', sizeBytes: 2 * MiB });

      await deadline('DELETE after the upload', 10_000, t.http.delete(`/api/v1/images/${id}`).set(auth).expect(204));
      await t.http.get(`/api/v1/images/${id}`).set(auth).expect(404);
    });

    it('an upload during a DELETE gets 409 too, and a DELETE waits for a locked row at most lock_timeout (409)', async () => {
      const id = await createImage();
      // another transaction holds the row: DELETE may not wait for it forever
      const pg = new PgClient({ connectionString: t.config.database.url });
      await pg.connect();
      try {
        await pg.query('BEGIN');
        await pg.query('SELECT 1 FROM images WHERE id = $1 FOR UPDATE', [id]);
        const del = t.http
          .delete(`/api/v1/images/${id}`)
          .set(auth)
          .then((r) => r);
        // while DELETE waits for the row it holds the content lock: an upload is refused at once
        await waitFor('the DELETE to wait for the row', async () => {
          const rows: unknown[] = await pg
            .query(`SELECT 1 FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')`)
            .then((r) => r.rows);
          return rows.length > 0;
        });
        const up = await deadline(
          'upload during DELETE',
          10_000,
          upload(id, 'raw', Buffer.alloc(MiB)).then((r) => r),
        );
        expect(up.status).toBe(409);
        expect(up.body.code).toBe('IMAGE_BUSY');
        const r = await deadline('DELETE of a locked row', 30_000, del);
        expect(r.status).toBe(409);
        expect(r.body.code).toBe('LOCK_TIMEOUT');
      } finally {
        await pg.query('ROLLBACK').catch(() => undefined);
        await pg.end();
      }
      await t.http.delete(`/api/v1/images/${id}`).set(auth).expect(204);
    });
  });

  describe('a refused request leaves the image as it was (found by the API fuzz suite)', () => {
    const row = async (id: string) =>
      (
        await t.app.get(DataSource).query(`SELECT content_status, content_progress, content_error, updated_at FROM images WHERE id = $1`, [id])
      )[0] as Record<string, unknown>;
    const tree = async (dir: string): Promise<string[]> =>
      (await fs.readdir(dir, { recursive: true }).catch(() => [] as string[])).map(String).sort();

    it('an empty upload (announced or chunked) is 400 and changes no column and no file', async () => {
      const id = await createImage();
      await upload(id, 'raw', Buffer.alloc(MiB)).expect(200);
      const before = await row(id);
      const files = await tree(path.join(storageRoot, 'images', id));
      const announced = await upload(id, 'raw', Buffer.alloc(0));
      expect(announced.status).toBe(400);
      expect(announced.body.code).toBe('UPLOAD_EMPTY');
      const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'PUT',
            path: `/api/v1/images/${id}/content?format=raw`,
            headers: { ...auth, 'Content-Type': 'application/octet-stream' },
          },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end(); // no Content-Length: chunked, and no chunk at all
      });
      expect(chunked.status).toBe(400);
      expect(await row(id)).toEqual(before);
      expect(await tree(path.join(storageRoot, 'images', id))).toEqual(files);
    });

    it('a blank disk is not read end to end: a 1 TiB sparse disk is ready at once, its sha256 left null', async () => {
      const id = await createImage();
      const r = await t.http
        .post(`/api/v1/images/${id}/content/blank`)
        .set(auth)
        .send({ sizeBytes: 1024 ** 4 });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ contentStatus: 'ready', sizeBytes: 1024 ** 4, contentSha256: null });
    });
  });

  describe('4. leftovers of an interrupted upload', () => {
    it('reconcile lists staging debris as orphans and removes it when asked', async () => {
      const id = await createImage();
      await upload(id, 'raw', Buffer.alloc(MiB)).expect(200);
      const leftover = path.join(storageRoot, 'images', id, '.staging', 'upload-deadbeef.raw');
      await fs.writeFile(leftover, Buffer.alloc(4096));
      const r = await t.http.post('/api/v1/storage/reconcile').set(auth).send({}).expect(200);
      expect(r.body.orphans).toEqual(expect.arrayContaining([{ kind: 'staging', ref: leftover, imageId: id }]));
      expect(r.body.removed).toEqual([]);
      const r2 = await t.http.post('/api/v1/storage/reconcile').set(auth).send({ removeOrphans: true }).expect(200);
      expect(r2.body.removed).toEqual(expect.arrayContaining([{ kind: 'staging', ref: leftover, imageId: id }]));
      await expect(fs.stat(leftover)).rejects.toMatchObject({ code: 'ENOENT' });
      expect((await image(id)).contentStatus).toBe('ready'); // the image itself is untouched
    });

    it('at start, marks imports a kill interrupted failed and removes their staging files', async () => {
      // The state `kill -9` during an upload leaves: the row says importing, the staging file stays.
      const id = await createImage();
      await upload(id, 'raw', Buffer.alloc(MiB)).expect(200);
      await t.app.get(DataSource).query(`UPDATE images SET content_status = 'importing', content_progress = 12 WHERE id = $1`, [id]);
      const leftover = path.join(storageRoot, 'images', id, '.staging', 'upload-0badf00d.raw');
      await fs.writeFile(leftover, Buffer.alloc(64 * 1024));

      // What DLS runs at start (the process that owned the upload is gone; here, nothing is uploading).
      await t.app.get(StorageInventoryService).onApplicationBootstrap();

      const img = (await t.http.get(`/api/v1/images/${id}`).set(auth).expect(200)).body;
      expect(img).toMatchObject({ contentStatus: 'failed', contentProgress: null });
      expect(img.contentError).toMatch(/interrupted/);
      await expect(fs.stat(leftover)).rejects.toMatchObject({ code: 'ENOENT' });
      const r = await t.http.post('/api/v1/storage/reconcile').set(auth).send({}).expect(200);
      expect(r.body.orphans).toEqual([]);
      // and it can be uploaded again
      expect((await upload(id, 'raw', Buffer.alloc(MiB))).body.contentStatus).toBe('ready');
    });
  });
});

describe('5. the free-space guard while a chunked upload arrives (e2e)', () => {
  let t: TestApp;
  let mnt: string;
  let mounted = false;
  let port: number;
  let auth: { Authorization: string };
  const FS_BYTES = 64 * MiB;
  const MIN_FREE = 40 * MiB; // leaves ~24 MiB for uploads

  beforeAll(async () => {
    // A small filesystem of our own, so free space is exact and nobody else's writes move it.
    mnt = await fs.mkdtemp(path.join(os.tmpdir(), 'dls-small-fs-'));
    await run('mount', ['-t', 'tmpfs', '-o', `size=${FS_BYTES},mode=0755`, 'dls-small-fs', mnt]);
    mounted = true;
    // The data dir on that filesystem, and the free-space floor a user sets for it: the floor is this test's subject.
    t = await createTestApp({ DLS_DATA_DIR: mnt, DLS_STORAGE_MIN_FREE: String(MIN_FREE) });
    auth = { Authorization: `Bearer ${t.adminToken}` };
    const server: http.Server = t.app.getHttpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await t?.close();
    if (mounted) await run('umount', [mnt]);
    await fs.rm(mnt, { recursive: true, force: true });
  });

  const createImage = async () => {
    const r = await t.http
      .post('/api/v1/images')
      .set(auth)
      .send({ name: `small-${randomBytes(4).toString('hex')}`, sizeBytes: 16 * MiB, format: 'raw' })
      .expect(201);
    return r.body.id as string;
  };

  it('stops a chunked upload at the limit with 507 and leaves nothing; a smaller one fits', async () => {
    const free = (await fs.statfs(mnt)).bavail * (await fs.statfs(mnt)).bsize;
    expect(free - MIN_FREE).toBeLessThan(32 * MiB);
    const id = await createImage();
    const up = streamingUpload(port, t.adminToken, id, 'raw');
    const chunk = Buffer.alloc(MiB, 7);
    let refusedEarly = false;
    void up.answer.then(() => (refusedEarly = true));
    for (let i = 0; i < 48 && !refusedEarly; i++) await up.write(chunk);
    up.end();
    const r = await deadline('the oversized chunked upload', 30_000, up.answer);
    expect(r.status).toBe(507);
    expect(r.body.code).toBe('INSUFFICIENT_STORAGE');
    expect(r.body.message).toMatch(/DLS_STORAGE_MIN_FREE/);

    const img = (await t.http.get(`/api/v1/images/${id}`).set(auth).expect(200)).body;
    expect(img.contentStatus).toBe('empty');
    expect(await stagingEntries(t.config.storage.dirRoot, id)).toEqual([]);
    expect(await fs.readdir(path.join(t.config.storage.dirRoot, 'images'))).not.toContain(id);
    const after = (await fs.statfs(mnt)).bavail * (await fs.statfs(mnt)).bsize;
    expect(after).toBeGreaterThanOrEqual(free - MiB);

    // With Content-Length the same size is refused before any byte is read
    const cl = await t.http
      .put(`/api/v1/images/${id}/content?format=raw`)
      .set(auth)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.alloc(48 * MiB));
    expect(cl.status).toBe(507);

    // …and a chunked upload that fits goes through
    const small = streamingUpload(port, t.adminToken, id, 'raw');
    for (let i = 0; i < 4; i++) await small.write(chunk);
    small.end();
    const ok = await deadline('the small chunked upload', 30_000, small.answer);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ contentStatus: 'ready', sizeBytes: 4 * MiB });
  });

  it("a client's move to an image that does not fit answers 507 before its old disk goes: the disk stays as it was", async () => {
    // Found by the API fuzz suite on a nearly full /tmp: the old disk was destroyed, then the new clone refused.
    const withVersion = async (bytes: number) => {
      const r = await t.http
        .post('/api/v1/images')
        .set(auth)
        .send({ name: `move-${randomBytes(4).toString('hex')}`, sizeBytes: bytes, format: 'raw' })
        .expect(201);
      await t.http
        .put(`/api/v1/images/${r.body.id}/content?format=raw`)
        .set(auth)
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.alloc(bytes, 9))
        .expect(200);
      const v = await t.http.post(`/api/v1/images/${r.body.id}/snapshots`).set(auth).send({ name: 'v1' }).expect(201);
      await t.http.post(`/api/v1/images/${r.body.id}/snapshots/${v.body.id}/publish`).set(auth).expect(200);
      return r.body.id as string;
    };
    // ~20 MiB are left above the minimum after the test before (its 4 MiB image stays)
    const small = await withVersion(MiB); // image, version and disk: 3 MiB
    const mac = `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
    const c = await t.http
      .post('/api/v1/clients')
      .set(auth)
      .send({ macAddress: mac, hostname: `mv-${randomBytes(3).toString('hex')}`, assignedImageId: small });
    expect(c.status).toBe(201);
    const before = (await t.http.put(`/api/v1/clients/${c.body.id}/disk`).set(auth).expect(200)).body;
    const big = await withVersion(7 * MiB); // 14 MiB more: ~3 MiB left, and a clone of it needs 7 (less the 1 freed)
    const { cloneMethod } = (await t.http.get('/api/v1/storage').set(auth).expect(200)).body;
    const filler = path.join(mnt, 'filler');
    if (cloneMethod === 'overlay') {
      // An overlay costs no copy of the version, so the move fits; what refuses it is free space already under
      // DLS_STORAGE_MIN_FREE (another tenant of the filesystem filled it).
      const free = (await fs.statfs(mnt)).bavail * (await fs.statfs(mnt)).bsize;
      await fs.writeFile(filler, Buffer.alloc(free - MIN_FREE + MiB, 1));
      await t.app.get(SpaceGuard).budget(); // drops the guard's one-second answer taken before the filler
    }

    await t.http.patch(`/api/v1/clients/${c.body.id}`).set(auth).send({ assignedImageId: big }).expect(200);
    const r = await t.http.put(`/api/v1/clients/${c.body.id}/disk`).set(auth);
    expect(r.status).toBe(507);
    expect(r.body.code).toBe('INSUFFICIENT_STORAGE');
    const after = await t.http.get(`/api/v1/clients/${c.body.id}/disk`).set(auth).expect(200);
    expect(after.body).toMatchObject({ path: before.path, versionId: before.versionId, state: 'ready' });
    expect((await fs.stat(before.path)).size).toBe(MiB);
    if (cloneMethod === 'overlay') {
      await fs.rm(filler);
      await t.app.get(SpaceGuard).budget();
      // With room again, the move goes through without a copy: the 7 MiB version did not have to fit twice.
      const moved = await t.http.put(`/api/v1/clients/${c.body.id}/disk`).set(auth).expect(200);
      expect(moved.body.path).toBe(before.path);
      expect((await fs.stat(moved.body.path)).size).toBe(7 * MiB);
    }
  });
});
