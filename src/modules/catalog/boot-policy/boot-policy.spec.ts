import { bootMethodOf, diskPolicyOf, mayOpenSession, offersBootFile, standingOf, trustOf, versionChoiceOf } from './boot-policy';

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

describe('boot route trust', () => {
  const base = {
    mac: '52:54:00:00:00:01',
    sourceIp: '10.0.0.5',
    rangeMode: 'full' as const,
    tokenProblem: null,
    assignedIp: '10.0.0.5',
    neighbourMac: '52:54:00:00:00:01',
  };

  it('accepts the leased address with a good token (full mode) and the confirmed MAC (proxy mode or no lease)', () => {
    expect(trustOf(base)).toEqual({ ok: true });
    expect(trustOf({ ...base, rangeMode: 'proxy', assignedIp: null })).toEqual({ ok: true });
    expect(trustOf({ ...base, assignedIp: null })).toEqual({ ok: true });
    // A relayed full-mode client: the neighbour is the router, the lease is what counts.
    expect(trustOf({ ...base, neighbourMac: '52:54:00:ff:ff:ff' })).toEqual({ ok: true });
  });

  it('refuses requests from outside every boot network, loopback included', () => {
    expect(trustOf({ ...base, sourceIp: '127.0.0.1', rangeMode: null })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no enabled boot network/),
    });
  });

  it('refuses a missing, expired or foreign token before anything else is considered', () => {
    expect(trustOf({ ...base, tokenProblem: 'expired token' })).toEqual({ ok: false, reason: 'expired token' });
  });

  it('full mode: another address than the lease is refused, whatever the neighbour table says', () => {
    expect(trustOf({ ...base, sourceIp: '10.0.0.6' })).toMatchObject({ ok: false, reason: expect.stringMatching(/not the address/) });
  });

  it('proxy mode: no neighbour entry or another MAC is refused (fail closed)', () => {
    const proxy = { ...base, rangeMode: 'proxy' as const, assignedIp: null };
    expect(trustOf({ ...proxy, neighbourMac: null })).toMatchObject({ ok: false, reason: expect.stringMatching(/cannot confirm/) });
    expect(trustOf({ ...proxy, neighbourMac: '52:54:00:00:00:02' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not 52:54:00:00:00:01/),
    });
  });
});
