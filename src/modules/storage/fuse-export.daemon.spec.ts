import { daemonMallocTunables, FuseExportDaemon, fuseMountpoints, nodeNameOf } from './fuse-export.daemon';
import { StorageErrorCode } from './storage.errors';

describe('fuse-export.daemon helpers', () => {
  it('names a node within QEMU 31-character limit, one per client UUID', () => {
    const a = nodeNameOf('0b6f3c1e-8a2d-4f7b-9c1e-2d3f4a5b6c7d');
    expect(a).toBe('n0b6f3c1e8a2d4f7b9c1e2d3f4a5b6c');
    expect(a.length).toBeLessThanOrEqual(31);
    expect(nodeNameOf('1b6f3c1e-8a2d-4f7b-9c1e-2d3f4a5b6c7d')).not.toBe(a);
  });

  it('lists FUSE mountpoints from a mounts table, decoding octal escapes and skipping other filesystems', () => {
    const table = [
      '/dev/vda / ext4 rw,relatime 0 0',
      '/dev/fuse /srv/dls/clients/a/disk.raw fuse rw,nosuid,nodev,relatime,user_id=0,group_id=0 0 0',
      '/dev/fuse /srv/with\\040space/disk.raw fuse rw 0 0',
      'zfs-fuse /tank fuse.zfs rw 0 0',
      'sshfs#x /mnt/x fuse.sshfs rw 0 0',
      '',
    ].join('\n');
    expect(fuseMountpoints(table)).toEqual(['/srv/dls/clients/a/disk.raw', '/srv/with space/disk.raw']);
  });

  it('refuses a relative run dir or one with a comma (qemu option syntax), and a bad export key', async () => {
    expect(() => new FuseExportDaemon({ runDir: 'run' })).toThrow(/absolute/);
    expect(() => new FuseExportDaemon({ runDir: '/srv/a,b' })).toThrow(/comma/);
    const d = new FuseExportDaemon({ runDir: '/tmp/dls-spec-never-started' });
    await expect(d.attach('../x', '/o.qcow2', '/m', '/v.raw')).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    await expect(d.attach('0b6f3c1e-8a2d-4f7b-9c1e-2d3f4a5b6c7d', '/o.qcow2', '/m', '/v.raw')).rejects.toMatchObject({
      code: StorageErrorCode.DAEMON_DOWN,
    });
    expect(d.running).toBe(false);
  });

  it('puts the QMP socket under /run/dls when the run dir is too long for a unix socket path', () => {
    const long = `/srv/${'x'.repeat(120)}`;
    expect(new FuseExportDaemon({ runDir: long }).socketPath).toMatch(/^\/run\/dls\/qsd-[0-9a-f]{16}\.sock$/);
    expect(new FuseExportDaemon({ runDir: '/srv/dls/run' }).socketPath).toBe('/srv/dls/run/qsd.sock');
  });
});

describe('fuse-export.daemon malloc settings', () => {
  it('keeps the FUSE bounce buffers in the heap, and lets an operator override it', () => {
    expect(daemonMallocTunables(undefined)).toBe('glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=67108864');
    expect(daemonMallocTunables('glibc.malloc.trim_threshold=1')).toMatch(/trim_threshold=67108864:glibc\.malloc\.trim_threshold=1$/);
  });
});
