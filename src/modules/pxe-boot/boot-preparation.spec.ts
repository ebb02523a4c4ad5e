import type { ClientDisksService } from '../catalog';
import { BootPreparation } from './boot-preparation.service';
import { FakeDisks, FakeIscsi } from './testing/fake-boot-plane';

function setup() {
  const disks = new FakeDisks(new Map([['a', { id: 'a', enabled: true, hasImage: true, policy: 'reset' as const }]]));
  const iscsi = new FakeIscsi();
  const preparation = new BootPreparation(disks as unknown as ClientDisksService, iscsi);
  return { disks, iscsi, preparation };
}

describe('BootPreparation', () => {
  it('prepares once per boot session: later calls of that session are answered from memory', async () => {
    const { disks, iscsi, preparation } = setup();
    const first = await preparation.prepare('a', 's1');
    for (let i = 0; i < 5; i++) expect(await preparation.prepare('a', 's1')).toBe(first);
    expect(preparation.cached('a', 's1')).toBe(first);
    expect(disks.ensured).toEqual(['a']);
    expect(iscsi.boots).toEqual(['s1']);
    // A new boot (new session, new CHAP secret) prepares again.
    await preparation.prepare('a', 's2');
    expect(iscsi.boots).toEqual(['s1', 's2']);
    expect(preparation.cached('a', 's1')).toBeNull();
    expect(preparation.preparationCount).toBe(2);
  });

  it('concurrent calls for one client and session share one preparation', async () => {
    const { disks, preparation } = setup();
    const all = await Promise.all(Array.from({ length: 20 }, () => preparation.prepare('a', 's1')));
    expect(new Set(all).size).toBe(1);
    expect(disks.ensured).toEqual(['a']);
  });

  it('a change drops what was kept (one client, or all), and a preparation that raced a change is not kept', async () => {
    const { disks, preparation } = setup();
    await preparation.prepare('a', 's1');
    preparation.invalidate('a');
    expect(preparation.cached('a', 's1')).toBeNull();
    await preparation.prepare('a', 's1');
    preparation.invalidate();
    expect(preparation.cached('a', 's1')).toBeNull();
    // The change lands while the disk is being prepared: the result is used for this call, but not kept.
    const prepare = disks.prepare.bind(disks);
    disks.prepare = async (id) => {
      const r = await prepare(id);
      preparation.invalidate('a');
      return r;
    };
    await preparation.prepare('a', 's1');
    expect(preparation.cached('a', 's1')).toBeNull();
    expect(disks.ensured).toHaveLength(3);
  });

  it('a failed preparation is not kept; the next call tries again', async () => {
    const { disks, preparation } = setup();
    const prepare = disks.prepare.bind(disks);
    disks.prepare = () => Promise.reject(new Error('no space'));
    await expect(preparation.prepare('a', 's1')).rejects.toThrow('no space');
    disks.prepare = prepare;
    await expect(preparation.prepare('a', 's1')).resolves.toBeDefined();
  });

  it('keeps nothing without a session (no CHAP nonce to tie it to)', async () => {
    const { disks, preparation } = setup();
    await preparation.prepare('a', null);
    await preparation.prepare('a', null);
    expect(disks.ensured).toEqual(['a', 'a']);
  });
});
