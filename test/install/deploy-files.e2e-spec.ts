/**
 * Issue 9 item 19: the container and the systemd unit say what they need. No Docker daemon here: these check the
 * files — the build context leaves the host's build and state out, the unit passes `systemd-analyze verify`, and the
 * capabilities the README's `docker run` grants are the ones the unit keeps.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../boot/dls-lab';

const root = repoRoot();
const read = (f: string) => readFileSync(join(root, f), 'utf8');

describe('container and systemd files', () => {
  it('.dockerignore keeps node_modules, dist, data, native/build and .git out of the build context', () => {
    expect(existsSync(join(root, '.dockerignore'))).toBe(true);
    const patterns = new Set(
      read('.dockerignore')
        .split('\n')
        .map((l) => l.trim().replace(/^\//, '').replace(/\/$/, ''))
        .filter((l) => l && !l.startsWith('#')),
    );
    for (const p of ['node_modules', 'dist', 'data', 'native/build', '.git']) expect([p, patterns.has(p)]).toEqual([p, true]);
  });

  it('the Dockerfile has a health check, and installs ZFS or says it does not (no silent fallback)', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/api\/v1\/health\/ready/m);
    expect(dockerfile).not.toMatch(/\|\|\s*\(?\s*apt-get/);
    expect(dockerfile).toMatch(/apt-get install -y --no-install-recommends zfsutils-linux/);
    expect(dockerfile).toMatch(/building WITHOUT ZFS/);
    expect(dockerfile).toMatch(/useradd --system .* dls-postgres/);
  });

  it('the README runs the container without --privileged, with the capabilities the systemd unit keeps', () => {
    const readme = read('README.md');
    const run = /docker run [\s\S]*?-v \/var\/lib\/dls:\/var\/lib\/dls dls/.exec(readme)?.[0] ?? '';
    expect(run).toContain('--network host');
    expect(run).toContain('--cap-drop ALL');
    expect(run).not.toContain('--privileged');
    const granted = [...run.matchAll(/--cap-add (\w+)/g)].map((m) => `CAP_${m[1]}`).sort();
    const unit = read('deploy/dls.service');
    const bounding = (/^CapabilityBoundingSet=(.*)$/m.exec(unit)?.[1] ?? '').split(/\s+/).sort();
    // The unit also keeps CAP_SYS_ADMIN for zfs mount, which the container adds only with the zfs driver.
    expect(bounding).toEqual([...granted, 'CAP_SYS_ADMIN'].sort());
  });

  it('deploy/dls.service passes systemd-analyze verify', () => {
    // verify also checks that ExecStart's program exists: point it at this Node (the unit names /usr/bin/node).
    const dir = mkdtempSync(join(tmpdir(), 'dls-unit-'));
    try {
      const unit = join(dir, 'dls.service');
      writeFileSync(unit, read('deploy/dls.service').replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
      const out = execFileSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(out).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
