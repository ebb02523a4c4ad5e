import { MalformedPacketError } from '../malformed-packet.error';
import {
  TGTADM_REQ_SIZE,
  TgtadmErrno,
  TgtadmMode,
  TgtadmOp,
  TgtadmUsageError,
  decodeTgtadmResponseBody,
  decodeTgtadmResponseHeader,
  encodeTgtadmRequest,
  parseTgtadmArgv,
  tgtadmStrerror,
} from './tgtadm.codec';

const base = ['-C', '17', '--lld', 'iscsi'];

describe('parseTgtadmArgv', () => {
  it("applies tgtadm's defaults: tid -1, lun 2^64-1, sid/cid 0, incoming account, no force", () => {
    const { controlPort, request } = parseTgtadmArgv([...base, '--mode', 'target', '--op', 'show']);
    expect(controlPort).toBe(17);
    expect(request).toEqual({
      mode: TgtadmMode.TARGET,
      op: TgtadmOp.SHOW,
      lld: 'iscsi',
      tid: -1,
      sid: 0n,
      lun: 0xffff_ffff_ffff_ffffn,
      cid: 0,
      hostNo: 0,
      deviceType: 0,
      acDir: 0,
      force: false,
      params: '',
    });
    expect(parseTgtadmArgv(['--mode', 'sys', '--op', 'show']).controlPort).toBe(0);
  });

  it("builds the parameter string in tgtadm's order, --params as `targetOps …,`", () => {
    const lun = parseTgtadmArgv([
      ...base,
      '--mode',
      'logicalunit',
      '--op',
      'new',
      '--tid',
      '3',
      '--lun',
      '1',
      '--backing-store',
      '/d/x.raw',
      '--bstype',
      'rdwr',
    ]);
    expect(lun.request).toMatchObject({ mode: TgtadmMode.DEVICE, op: TgtadmOp.NEW, tid: 3, lun: 1n, params: 'path=/d/x.raw,bstype=rdwr' });
    const upd = parseTgtadmArgv([...base, '--mode', 'logicalunit', '--op', 'update', '--tid', '3', '--lun', '1', '--params', 'lbppbe=3,scsi_sn=AB']);
    expect(upd.request.params).toBe('targetOps lbppbe=3,scsi_sn=AB,');
    const acct = parseTgtadmArgv([...base, '--mode', 'account', '--op', 'new', '--user', 'u1', '--password', 's3cret']);
    expect(acct.request.params).toBe('user=u1,password=s3cret');
    const state = parseTgtadmArgv([...base, '--mode', 'target', '--op', 'update', '--tid', '2', '--name', 'state', '--value', 'offline']);
    expect(state.request.params).toBe('state=offline');
    const bind = parseTgtadmArgv([...base, '--mode', 'account', '--op', 'bind', '--tid', '2', '--user', 'u1', '--outgoing']);
    expect(bind.request).toMatchObject({ mode: TgtadmMode.ACCOUNT, op: TgtadmOp.BIND, acDir: 1, params: 'user=u1' });
    const del = parseTgtadmArgv([...base, '--mode', 'target', '--op', 'delete', '--force', '--tid', '9']);
    expect(del.request).toMatchObject({ force: true, tid: 9, params: '' });
    const conn = parseTgtadmArgv([...base, '--mode', 'conn', '--op', 'delete', '--tid', '2', '--sid', '18446744073709551615', '--cid', '4']);
    expect(conn.request).toMatchObject({ mode: TgtadmMode.CONNECTION, sid: 0xffff_ffff_ffff_ffffn, cid: 4 });
  });

  it.each([
    [['--mode', 'target'], /specify the operation/],
    [['--op', 'show'], /specify the mode/],
    [['--mode', 'nope', '--op', 'show'], /unknown mode/],
    [['--mode', 'target', '--op', 'nope'], /unknown operation/],
    [['--mode', 'target', '--op', 'show', '--tid'], /requires an argument/],
    [['--mode', 'target', '--op', 'show', '--bogus', 'x'], /unrecognized option/],
    [['--mode', 'target', '--op', 'show', '--tid', '-1'], /invalid/],
    [['--mode', 'target', '--op', 'show', '--tid', '2147483648'], /invalid/],
    [['--mode', 'target', '--op', 'show', '--lun', '18446744073709551616'], /invalid/],
    [['-C', '32768', '--mode', 'target', '--op', 'show'], /invalid/],
    [['--lld', 'x'.repeat(64), '--mode', 'target', '--op', 'show'], /too long/],
  ])('refuses %j as tgtadm would', (argv, message) => {
    expect(() => parseTgtadmArgv(argv)).toThrow(TgtadmUsageError);
    expect(() => parseTgtadmArgv(argv)).toThrow(message);
  });
});

describe('encodeTgtadmRequest', () => {
  it('lays out struct tgtadm_req (120 bytes, little endian) followed by the NUL-terminated parameters', () => {
    const { request } = parseTgtadmArgv([
      ...base,
      '--mode',
      'logicalunit',
      '--op',
      'delete',
      '--force',
      '--tid',
      '7',
      '--lun',
      '2',
      '--sid',
      '5',
      '--cid',
      '6',
    ]);
    request.params = 'a=b';
    const b = encodeTgtadmRequest(request);
    expect(b.length).toBe(TGTADM_REQ_SIZE + 4);
    expect(b.readInt32LE(0)).toBe(TgtadmMode.DEVICE);
    expect(b.readInt32LE(4)).toBe(TgtadmOp.DELETE);
    expect(b.toString('latin1', 8, 13)).toBe('iscsi');
    expect(b.subarray(13, 72).every((x) => x === 0)).toBe(true);
    expect(b.readUInt32LE(72)).toBe(b.length);
    expect(b.readInt32LE(76)).toBe(7);
    expect(b.readBigUInt64LE(80)).toBe(5n);
    expect(b.readBigUInt64LE(88)).toBe(2n);
    expect(b.readUInt32LE(96)).toBe(6);
    expect(b.readUInt32LE(116)).toBe(1);
    expect(b.toString('latin1', TGTADM_REQ_SIZE)).toBe('a=b\0');
  });

  it('sends no parameter bytes (not even a NUL) when there are none; tid -1 as 0xffffffff', () => {
    const b = encodeTgtadmRequest(parseTgtadmArgv(['--mode', 'target', '--op', 'show']).request);
    expect(b.length).toBe(TGTADM_REQ_SIZE);
    expect(b.readUInt32LE(76)).toBe(0xffffffff);
    expect(b.readBigUInt64LE(88)).toBe(0xffff_ffff_ffff_ffffn);
  });
});

describe('responses', () => {
  it('decodes the header and refuses impossible lengths', () => {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(TgtadmErrno.NO_TARGET, 0);
    h.writeUInt32LE(8, 4);
    expect(decodeTgtadmResponseHeader(h)).toEqual({ err: TgtadmErrno.NO_TARGET, len: 8 });
    expect(() => decodeTgtadmResponseHeader(h.subarray(0, 7))).toThrow(MalformedPacketError);
    h.writeUInt32LE(7, 4);
    expect(() => decodeTgtadmResponseHeader(h)).toThrow(/length 7/);
    h.writeUInt32LE(0xffffffff, 4);
    expect(() => decodeTgtadmResponseHeader(h)).toThrow(MalformedPacketError);
  });

  it('reads the body up to its NUL, as tgtadm prints it', () => {
    expect(decodeTgtadmResponseBody(Buffer.from('Target 1: iqn.x\n\0junk'))).toBe('Target 1: iqn.x\n');
    expect(decodeTgtadmResponseBody(Buffer.from('no nul'))).toBe('no nul');
  });

  it("maps tgtd's error numbers to tgtadm's texts", () => {
    expect(tgtadmStrerror(TgtadmErrno.TARGET_EXIST)).toBe('this target already exists');
    expect(tgtadmStrerror(TgtadmErrno.USER_EXIST)).toBe('this account already exists');
    expect(tgtadmStrerror(TgtadmErrno.INVALID_REQUEST)).toBe('invalid request');
    expect(tgtadmStrerror(999)).toBe('(unknown tgtadm_errno)');
  });
});
