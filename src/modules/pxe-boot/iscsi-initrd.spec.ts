import { decodeNewc, S_IFDIR, S_IFREG } from '@protocols/cpio/cpio-newc';
import { IpxeScriptError } from '@protocols/ipxe/ipxe-script';
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { DRACUT_ISCSI_CONF, INITRAMFS_TOOLS_ISCSI_CONF, initramfsToolsIscsiConf, iscsiInitrd, iscsiRootParams } from './iscsi-initrd';

const exp = {
  targetIqn: 'iqn.2026-11.io.dls:client-0a8c4d4e',
  initiatorIqn: 'iqn.2026-11.io.dls:initiator-0a8c4d4e',
  chapUser: 'dls-0a8c4d4e7f0b4a43',
  chapSecret: 'Abcdefgh01234567',
  portal: { address: '10.213.0.1', port: 3260 },
  lun: 1,
};

describe('iSCSI initrd fragment', () => {
  it("holds dracut's config with this login, 0600 root, under 0755 etc/ and etc/cmdline.d/", () => {
    const members = decodeNewc(gunzipSync(iscsiInitrd(exp)));
    expect(members.map((m) => [m.path, m.mode, m.uid, m.gid])).toEqual([
      ['etc', S_IFDIR | 0o755, 0, 0],
      ['etc/cmdline.d', S_IFDIR | 0o755, 0, 0],
      ['etc/cmdline.d/90-dls-iscsi.conf', S_IFREG | 0o600, 0, 0],
      ['etc/iscsi.initramfs', S_IFREG | 0o600, 0, 0],
    ]);
    expect(DRACUT_ISCSI_CONF).toBe('etc/cmdline.d/90-dls-iscsi.conf');
    expect(members[2].data.toString()).toBe(
      'rd.iscsi.initiator=iqn.2026-11.io.dls:initiator-0a8c4d4e ' +
        'netroot=iscsi:dls-0a8c4d4e7f0b4a43:Abcdefgh01234567@10.213.0.1::3260:1:iqn.2026-11.io.dls:client-0a8c4d4e\n',
    );
  });

  it("holds initramfs-tools' /etc/iscsi.initramfs with the same login, which sh reads back as the values", () => {
    const members = decodeNewc(gunzipSync(iscsiInitrd(exp)));
    const conf = members.find((m) => m.path === INITRAMFS_TOOLS_ISCSI_CONF)!;
    expect(conf.data.toString()).toBe(initramfsToolsIscsiConf(exp));
    const names = [
      'ISCSI_INITIATOR',
      'ISCSI_TARGET_NAME',
      'ISCSI_TARGET_IP',
      'ISCSI_TARGET_PORT',
      'ISCSI_TARGET_GROUP',
      'ISCSI_USERNAME',
      'ISCSI_PASSWORD',
    ];
    const out = execFileSync('sh', ['-c', `${conf.data.toString()}\nprintf '%s\\n' ${names.map((n) => `"$${n}"`).join(' ')}`], { encoding: 'utf8' });
    expect(out.split('\n').slice(0, -1)).toEqual([exp.initiatorIqn, exp.targetIqn, '10.213.0.1', '3260', '1', exp.chapUser, exp.chapSecret]);
  });

  it('refuses to write an initramfs-tools config from values the dracut checks refuse', () => {
    expect(() => initramfsToolsIscsiConf({ ...exp, chapSecret: "quote'd-0123456" })).toThrow(IpxeScriptError);
  });

  it.each([
    ['chapSecret', { chapSecret: 'short' }],
    ['chapSecret', { chapSecret: 'has:a:colon-0123' }],
    ['chapSecret', { chapSecret: 'has@an-at-sign01' }],
    ['chapSecret', { chapSecret: 'line\nbreak-012345' }],
    ['chapUser', { chapUser: 'a:b' }],
    ['chapUser', { chapUser: 'a b' }],
    ['targetIqn', { targetIqn: 'iqn.x *' }],
    ['portal.address', { portal: { address: '0.0.0.0 x', port: 3260 } }],
    ['lun', { lun: 256 }],
  ])('refuses a %s dracut could not take (or that would add a word)', (field, patch) => {
    let err: unknown;
    try {
      iscsiRootParams({ ...exp, ...patch });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IpxeScriptError);
    expect((err as IpxeScriptError).field).toBe(field);
  });
});
