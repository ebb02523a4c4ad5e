import { bootMethodOf, diskPolicyOf, mayOpenSession, offersBootFile, standingOf, versionChoiceOf } from './boot-policy';

const client = (over: Partial<{ enabled: boolean; pending: boolean; assignedImageId: string | null }> = {}) => ({
  enabled: true,
  pending: false,
  assignedImageId: 'img-1',
  ...over,
});

describe('boot policy rules', () => {
  it('standing: unknown, then pending before disabled, then no image, else bootable', () => {
    expect(standingOf(null)).toBe('unknown');
    expect(standingOf(client({ pending: true, enabled: false }))).toBe('pending');
    expect(standingOf(client({ pending: true }))).toBe('pending');
    expect(standingOf(client({ enabled: false }))).toBe('disabled');
    expect(standingOf(client({ enabled: false, assignedImageId: null }))).toBe('disabled');
    expect(standingOf(client({ assignedImageId: null }))).toBe('no-image');
    expect(standingOf(client())).toBe('bootable');
  });

  it('a boot file goes to enabled clients, with or without an image; nothing to unknown, pending or disabled ones', () => {
    expect(offersBootFile('bootable')).toBe(true);
    expect(offersBootFile('no-image')).toBe(true);
    for (const s of ['unknown', 'pending', 'disabled'] as const) expect(offersBootFile(s)).toBe(false);
  });

  it('a session opens only for a bootable client', () => {
    expect(mayOpenSession('bootable')).toBe(true);
    for (const s of ['unknown', 'pending', 'disabled', 'no-image'] as const) expect(mayOpenSession(s)).toBe(false);
  });

  it("disk policy: maintenance is persistent, else the client's override, else the image's default", () => {
    const image = { defaultDiskPolicy: 'reset' as const };
    expect(diskPolicyOf({ diskPolicy: null }, image, true)).toBe('persistent');
    expect(diskPolicyOf({ diskPolicy: 'reset' }, image, true)).toBe('persistent');
    expect(diskPolicyOf({ diskPolicy: 'persistent' }, image, false)).toBe('persistent');
    expect(diskPolicyOf({ diskPolicy: null }, image, false)).toBe('reset');
  });

  it('version: the maintenance client gets the newest, a pinned client its pin, everyone else the published one', () => {
    expect(versionChoiceOf({ id: 'c1', pinnedSnapshotId: 'v1' }, { maintenanceClientId: 'c1' })).toEqual({ kind: 'newest' });
    expect(versionChoiceOf({ id: 'c1', pinnedSnapshotId: 'v1' }, { maintenanceClientId: 'c2' })).toEqual({ kind: 'pinned', versionId: 'v1' });
    expect(versionChoiceOf({ id: 'c1', pinnedSnapshotId: null }, { maintenanceClientId: null })).toEqual({ kind: 'published' });
  });

  it("method: sanboot unless the image names a kernel; the client's parameters ride along", () => {
    const none = { bootKernel: null, bootInitrd: null, bootCmdline: null };
    expect(bootMethodOf(none, { customBootParams: 'quiet' })).toEqual({ kind: 'sanboot' });
    expect(bootMethodOf({ bootKernel: 'http://s/k', bootInitrd: 'http://s/i', bootCmdline: 'console=ttyS0' }, { customBootParams: 'quiet' })).toEqual(
      {
        kind: 'kernel',
        kernel: 'http://s/k',
        initrd: 'http://s/i',
        cmdline: 'console=ttyS0',
        extraCmdline: 'quiet',
      },
    );
  });
});
