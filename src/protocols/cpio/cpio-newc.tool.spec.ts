/**
 * The writer checked by GNU cpio itself (Debian package `cpio`, installed by .ci/run): `cpio -it` lists what we wrote
 * and `cpio -i` extracts it with the modes we set. A missing `cpio` fails the test, it is not skipped.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNewc } from './cpio-newc';

describe('newc archives read by GNU cpio', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'dls-cpio-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const archive = () =>
    encodeNewc([
      { type: 'dir', path: 'etc', mode: 0o755 },
      { type: 'dir', path: 'etc/cmdline.d', mode: 0o755 },
      {
        type: 'file',
        path: 'etc/cmdline.d/90-dls-iscsi.conf',
        mode: 0o600,
        data: 'rd.iscsi.initiator=iqn.x netroot=iscsi:u:s@1.2.3.4::3260:1:iqn.t\n',
      },
      { type: 'file', path: 'odd-size', mode: 0o644, data: Buffer.alloc(4099, 7) },
    ]);

  it('cpio -it lists every member, in order, and reports no error', () => {
    const out = execFileSync('cpio', ['-it', '--quiet'], { input: archive(), encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual(['etc', 'etc/cmdline.d', 'etc/cmdline.d/90-dls-iscsi.conf', 'odd-size']);
    const verbose = execFileSync('cpio', ['-itv', '--quiet'], { input: archive(), encoding: 'utf8' });
    expect(verbose).toMatch(/^drwxr-xr-x .* root +root .* etc$/m);
    expect(verbose).toMatch(/^-rw------- .* root +root .* etc\/cmdline\.d\/90-dls-iscsi\.conf$/m);
  });

  it('cpio -i extracts the files with their content and modes', () => {
    const file = join(dir, 'a.cpio');
    writeFileSync(file, archive());
    const out = join(dir, 'out');
    execFileSync('mkdir', [out]);
    execFileSync('cpio', ['-i', '--quiet', '--no-absolute-filenames', '-F', file], { cwd: out });
    const conf = join(out, 'etc/cmdline.d/90-dls-iscsi.conf');
    expect(readFileSync(conf, 'utf8')).toBe('rd.iscsi.initiator=iqn.x netroot=iscsi:u:s@1.2.3.4::3260:1:iqn.t\n');
    expect(statSync(conf).mode & 0o7777).toBe(0o600);
    expect(statSync(join(out, 'etc/cmdline.d')).isDirectory()).toBe(true);
    expect(readFileSync(join(out, 'odd-size')).equals(Buffer.alloc(4099, 7))).toBe(true);
  });

  it('each archive stands alone: cpio reads a concatenation up to the first trailer, and the second on its own', () => {
    // The kernel reads on after a trailer; GNU cpio stops there. Each half must be a complete archive on its own.
    const a = archive();
    const b = encodeNewc([{ type: 'file', path: 'second', mode: 0o600, data: 'x' }]);
    expect(execFileSync('cpio', ['-it', '--quiet'], { input: Buffer.concat([a, b]), encoding: 'utf8' })).toContain('odd-size');
    expect(execFileSync('cpio', ['-it', '--quiet'], { input: b, encoding: 'utf8' }).trim()).toBe('second');
  });
});
