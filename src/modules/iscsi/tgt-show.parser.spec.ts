import { parseAccountShow, parseConnShow, parseTargetShow } from './tgt-show.parser';
import { TgtErrorCode } from './tgt.errors';

/** Captured from tgt 1.0.85 (`tgtadm -C 7711 --lld iscsi --mode target --op show`) with one live libiscsi session. */
const TWO_TARGETS_WITH_SESSION = `Target 1: iqn.2025-01.lab.dls:pc001
    System information:
        Driver: iscsi
        State: ready
        Nop interval: 7
        Nop count: 3
    I_T nexus information:
        I_T nexus: 3
            Initiator: iqn.2025-01.lab.dls:client1 alias: none
            Connection: 0
                IP Address: 127.0.0.1
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00010000
            SCSI SN: beaf10
            Size: 0 MB, Block size: 1
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: null
            Backing store path: None
            Backing store flags: 
        LUN: 1
            Type: disk
            SCSI ID: dls-pc001
            SCSI SN: DLS-PC001
            Size: 67 MB, Block size: 512
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: rdwr
            Backing store path: /tmp/tgtexp/disk.img
            Backing store flags: 
    Account information:
        pc001
        out001 (outgoing)
    ACL information:
        127.0.0.1
        iqn.2025-01.lab.dls:client1
Target 2: iqn.2025-01.lab.dls:pc002
    System information:
        Driver: iscsi
        State: offline
        Nop interval: 5
        Nop count: 3
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00020000
            SCSI SN: beaf20
            Size: 0 MB, Block size: 1
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: null
            Backing store path: None
            Backing store flags: 
    Account information:
    ACL information:
`;

/** The sample from the measured notes (no Nop lines, aio LUN, ACL by address). */
const NOTES_SAMPLE = `Target 2: iqn.2025-01.lab.dls:pc-ext4
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 7
            Initiator: iqn.2025-01.lab.dls:client-perf alias: none
            Connection: 0
                IP Address: 127.0.0.1
        I_T nexus: 9
            Initiator: iqn.2010-04.org.ipxe:00d15000-0000-4000-8000-525400000001 alias: pxe-01
            Connection: 0
                IP Address: 10.213.0.101
            Connection: 1
                IP Address: 10.213.0.101
    LUN information:
        LUN: 1
            Type: disk
            SCSI ID: IET     00020001
            SCSI SN: beaf21
            Size: 1074 MB, Block size: 512
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: Yes
            SWP: No
            Thin-provisioning: No
            Backing store type: aio
            Backing store path: /path/to/file
            Backing store flags:
    Account information:
        pc001
    ACL information:
        ALL
`;

describe('parseTargetShow', () => {
  it('parses targets, state, nop settings, sessions, LUNs, accounts (incl. outgoing) and ACLs', () => {
    const [t1, t2] = parseTargetShow(TWO_TARGETS_WITH_SESSION);
    expect(t1).toEqual({
      tid: 1,
      iqn: 'iqn.2025-01.lab.dls:pc001',
      driver: 'iscsi',
      state: 'ready',
      nopInterval: 7,
      nopCount: 3,
      sessions: [{ sid: 3, initiator: 'iqn.2025-01.lab.dls:client1', alias: null, connections: [{ cid: 0, ip: '127.0.0.1' }] }],
      luns: [
        expect.objectContaining({ lun: 0, type: 'controller', scsiId: 'IET     00010000', backingStorePath: null, backingStoreType: 'null' }),
        {
          lun: 1,
          type: 'disk',
          scsiId: 'dls-pc001',
          scsiSn: 'DLS-PC001',
          sizeMb: 67,
          blockSize: 512,
          online: true,
          readonly: false,
          removable: false,
          thinProvisioning: false,
          backingStoreType: 'rdwr',
          backingStorePath: '/tmp/tgtexp/disk.img',
          backingStoreFlags: '',
        },
      ],
      accounts: [
        { user: 'pc001', outgoing: false },
        { user: 'out001', outgoing: true },
      ],
      acls: ['127.0.0.1', 'iqn.2025-01.lab.dls:client1'],
    });
    expect(t2).toMatchObject({ tid: 2, iqn: 'iqn.2025-01.lab.dls:pc002', state: 'offline', sessions: [], accounts: [], acls: [] });
    expect(t2.luns).toHaveLength(1);
  });

  it('parses the notes sample: several sessions, several connections, aliases, no nop lines', () => {
    const [t] = parseTargetShow(NOTES_SAMPLE);
    expect(t.nopInterval).toBeUndefined();
    expect(t.sessions).toEqual([
      { sid: 7, initiator: 'iqn.2025-01.lab.dls:client-perf', alias: null, connections: [{ cid: 0, ip: '127.0.0.1' }] },
      {
        sid: 9,
        initiator: 'iqn.2010-04.org.ipxe:00d15000-0000-4000-8000-525400000001',
        alias: 'pxe-01',
        connections: [
          { cid: 0, ip: '10.213.0.101' },
          { cid: 1, ip: '10.213.0.101' },
        ],
      },
    ]);
    expect(t.luns[0]).toMatchObject({ lun: 1, readonly: true, backingStoreType: 'aio', sizeMb: 1074 });
    expect(t.acls).toEqual(['ALL']);
  });

  it('returns no targets for empty output and tolerates CRLF', () => {
    expect(parseTargetShow('')).toEqual([]);
    expect(parseTargetShow('\n')).toEqual([]);
    expect(parseTargetShow('Target 4: iqn.2025-01.lab.dls:x\r\n    ACL information:\r\n        ALL\r\n')[0].acls).toEqual(['ALL']);
  });

  it('keeps IPv6 addresses whole', () => {
    const out = `Target 1: iqn.2025-01.lab.dls:v6
    I_T nexus information:
        I_T nexus: 1
            Initiator: iqn.2025-01.lab.dls:c alias: none
            Connection: 0
                IP Address: fd00:213::65
`;
    expect(parseTargetShow(out)[0].sessions[0].connections[0].ip).toBe('fd00:213::65');
  });

  it.each([
    ['a bad header', 'Target x: iqn.2025-01.a:b\n'],
    ['a non-numeric sid', 'Target 1: iqn.2025-01.a:b\n    I_T nexus information:\n        I_T nexus: x\n            Initiator: i\n'],
    ['a nexus without initiator', 'Target 1: iqn.2025-01.a:b\n    I_T nexus information:\n        I_T nexus: 1\n'],
    ['a bad size line', 'Target 1: iqn.2025-01.a:b\n    LUN information:\n        LUN: 1\n            Size: lots\n'],
    ['a control character', 'Target 1: iqn.2025-01.a:b\u0007\n'],
  ])('rejects %s with MALFORMED_OUTPUT', (_what, out) => {
    expect(() => parseTargetShow(out)).toThrow(expect.objectContaining({ code: TgtErrorCode.MALFORMED_OUTPUT }));
  });
});

describe('parseConnShow', () => {
  it('parses one row per connection (captured from tgt 1.0.85)', () => {
    const out = 'Session: 3\n    Connection: 0\n        Initiator: iqn.2025-01.lab.dls:client1\n        IP Address: 127.0.0.1\n';
    expect(parseConnShow(out)).toEqual([{ sid: 3, cid: 0, initiator: 'iqn.2025-01.lab.dls:client1', ip: '127.0.0.1' }]);
  });

  it('handles several sessions and an empty output', () => {
    const out = `Session: 16
    Connection: 0
        Initiator: iqn.2025-01.lab.dls:a
        IP Address: 127.0.0.1
Session: 17
    Connection: 0
        Initiator: iqn.2025-01.lab.dls:b
        IP Address: 127.0.0.2
`;
    expect(parseConnShow(out).map((r) => [r.sid, r.initiator])).toEqual([
      [16, 'iqn.2025-01.lab.dls:a'],
      [17, 'iqn.2025-01.lab.dls:b'],
    ]);
    expect(parseConnShow('')).toEqual([]);
  });

  it('rejects unexpected top-level lines', () => {
    expect(() => parseConnShow('Nonsense\n')).toThrow(expect.objectContaining({ code: TgtErrorCode.MALFORMED_OUTPUT }));
  });
});

describe('parseAccountShow', () => {
  it('parses the account list (captured)', () => {
    expect(parseAccountShow('Account list:\n    out001\n    pc001\n')).toEqual(['out001', 'pc001']);
    expect(parseAccountShow('Account list:\n')).toEqual([]);
    expect(parseAccountShow('')).toEqual([]);
  });

  it('rejects other shapes', () => {
    expect(() => parseAccountShow('Accounts:\n    a\n')).toThrow(expect.objectContaining({ code: TgtErrorCode.MALFORMED_OUTPUT }));
  });
});
