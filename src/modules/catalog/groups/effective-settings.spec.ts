import { applyEffective, effectiveSettings, GroupSettings } from './effective-settings';

const bare = { assignedImageId: null, pinnedSnapshotId: null, diskPolicy: null, bootLoader: null, customBootParams: null };
const group: GroupSettings = {
  imageId: 'img-g',
  pinnedSnapshotId: 'v-g',
  diskPolicy: 'persistent',
  bootLoader: 'ipxe.efi',
  bootParams: 'quiet',
};

describe('effective settings', () => {
  it('no group and nothing set: defaults', () => {
    expect(effectiveSettings(bare, null)).toEqual({
      imageId: { value: null, source: 'default' },
      pinnedSnapshotId: { value: null, source: 'default' },
      diskPolicy: { value: null, source: 'default' },
      bootLoader: { value: null, source: 'default' },
      customBootParams: { value: null, source: 'default' },
    });
  });

  it('inherits every unset field from the group', () => {
    const e = effectiveSettings(bare, group);
    expect(e.imageId).toEqual({ value: 'img-g', source: 'group' });
    expect(e.pinnedSnapshotId).toEqual({ value: 'v-g', source: 'group' });
    expect(e.diskPolicy).toEqual({ value: 'persistent', source: 'group' });
    expect(e.bootLoader).toEqual({ value: 'ipxe.efi', source: 'group' });
    expect(e.customBootParams).toEqual({ value: 'quiet', source: 'group' });
  });

  it("the client's own values win", () => {
    const e = effectiveSettings({ ...bare, diskPolicy: 'reset', customBootParams: 'nomodeset' }, group);
    expect(e.diskPolicy).toEqual({ value: 'reset', source: 'client' });
    expect(e.customBootParams).toEqual({ value: 'nomodeset', source: 'client' });
  });

  it("a group's pin applies only while the client boots the group's image", () => {
    expect(effectiveSettings({ ...bare, assignedImageId: 'img-other' }, group).pinnedSnapshotId).toEqual({ value: null, source: 'default' });
    expect(effectiveSettings({ ...bare, assignedImageId: 'img-g' }, group).pinnedSnapshotId).toEqual({ value: 'v-g', source: 'group' });
    expect(effectiveSettings({ ...bare, assignedImageId: 'img-other', pinnedSnapshotId: 'v-1' }, group).pinnedSnapshotId.source).toBe('client');
  });

  it('applyEffective replaces the stored fields, keeps the rest and the prototype', () => {
    class C {
      id = 'c1';
      assignedImageId: string | null = null;
      pinnedSnapshotId = null;
      diskPolicy = null;
      bootLoader = null;
      customBootParams = null;
    }
    const c = new C();
    const r = applyEffective(c, effectiveSettings(c, group));
    expect(r).toBeInstanceOf(C);
    expect(r).toMatchObject({ id: 'c1', assignedImageId: 'img-g', customBootParams: 'quiet' });
    expect(c.assignedImageId).toBeNull();
  });
});
