import { PassThrough, Readable } from 'node:stream';
import { CommandOptions, CommandResult } from '@common/exec/command-runner';
import { StorageError, StorageErrorCode } from './storage.errors';
import {
  StreamingProcess,
  ZfsAdapter,
  assertDatasetName,
  assertSnapshotName,
  mapZfsFailure,
  parseZfsGet,
  zfsPropNumber,
  zfsPropValue,
} from './zfs.adapter';

interface Call {
  file: string;
  args: string[];
}

type Responder = (call: Call) => Partial<CommandResult> | Promise<Partial<CommandResult>>;

/** A fake execFile: records argv, answers from `responder` (default: success with empty output). */
function fakeRunner(responder: Responder = () => ({})) {
  const calls: Call[] = [];
  const runner = async (file: string, args: readonly string[], _opts: CommandOptions): Promise<CommandResult> => {
    const call = { file, args: [...args] };
    calls.push(call);
    const r = await responder(call);
    return { code: 0, signal: null, stdout: '', stderr: '', timedOut: false, ...r };
  };
  return { runner, calls };
}

const fail = (stderr: string, code = 1): Partial<CommandResult> => ({ code, stderr });

async function caught(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StorageError) return e;
    throw e;
  }
  throw new Error('expected a StorageError');
}

describe('ZfsAdapter name validation (before anything is executed)', () => {
  const bad = [
    'tank/a;rm -rf /',
    'tank/x y',
    'tank/../..',
    'tank/$(id)',
    'tank/a\nb',
    'tank/a\tb',
    'tank/Upper',
    '',
    '/tank',
    'tank//a',
    'tank/-o',
    'tank/.hidden',
    '1tank/a',
    `tank/${'a'.repeat(300)}`,
  ];

  it.each(bad)('rejects dataset name %j', async (name) => {
    const { runner, calls } = fakeRunner();
    const zfs = new ZfsAdapter({ runner });
    await expect(zfs.create(name)).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    await expect(zfs.destroy(name)).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    await expect(zfs.get([name], ['used'])).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    expect(calls).toHaveLength(0);
  });

  it('rejects "@" in a filesystem name for create and clone targets', async () => {
    const { runner, calls } = fakeRunner();
    const zfs = new ZfsAdapter({ runner });
    await expect(zfs.create('tank/bad@name')).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    await expect(zfs.clone('tank/a@v1', 'tank/bad@name')).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    await expect(zfs.mount('tank/bad@name')).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    expect(calls).toHaveLength(0);
  });

  it.each(['tank/a', 'tank/a@', 'tank/a@b@c', 'tank/a@$(id)', 'tank/a@x y', 'tank/a@V1', 'tank/a b@v1'])('rejects snapshot name %j', async (name) => {
    const { runner, calls } = fakeRunner();
    const zfs = new ZfsAdapter({ runner });
    await expect(zfs.snapshot(name)).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    await expect(zfs.hold(name, 'dls-version')).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    expect(calls).toHaveLength(0);
  });

  it('accepts the names DLS uses', () => {
    expect(() => assertDatasetName('tank/dls/images/0b8e7c1e-3a52-4c9b-9d57-3f3b1f2b8a10')).not.toThrow();
    expect(assertSnapshotName('tank/dls/images/abc@v-0b8e7c1e-3a52-4c9b-9d57-3f3b1f2b8a10')).toEqual({
      dataset: 'tank/dls/images/abc',
      snapshot: 'v-0b8e7c1e-3a52-4c9b-9d57-3f3b1f2b8a10',
    });
  });

  it.each([
    ['DLS:Upper', '1'],
    ['dls:a b', '1'],
    ['dls:x', 'a\tb'],
    ['dls:x', 'a b'],
    ['dls:x', ''],
    ['dls:x', 'a\nb'],
    ['dls:x', '$(id)'],
    ['-o', 'x'],
    ['mountpoint', '/etc'],
  ])('rejects property %j = %j', async (key, value) => {
    const { runner, calls } = fakeRunner();
    const zfs = new ZfsAdapter({ runner });
    await expect(zfs.create('tank/a', { [key]: value })).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    await expect(zfs.set('tank/a', { [key]: value })).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    expect(calls).toHaveLength(0);
  });

  it('rejects an invalid hold tag and an invalid pool name', async () => {
    const { runner, calls } = fakeRunner();
    const zfs = new ZfsAdapter({ runner });
    await expect(zfs.hold('tank/a@v1', 'x y')).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    await expect(zfs.poolHealth('tank;ls')).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    expect(calls).toHaveLength(0);
  });
});

describe('ZfsAdapter argv', () => {
  it('builds create/clone/snapshot/destroy/hold command lines with -o props and no shell', async () => {
    const { runner, calls } = fakeRunner();
    const zfs = new ZfsAdapter({ runner, zfsBinary: '/sbin/zfs' });
    await zfs.create('tank/dls/images/i1', { 'dls:managed': '1', compression: 'off' }, { parents: true });
    await zfs.snapshot('tank/dls/images/i1@v-1', { 'dls:version-id': 'v1' });
    await zfs.clone('tank/dls/images/i1@v-1', 'tank/dls/clients/c1', { 'dls:client-id': 'c1' });
    await zfs.hold('tank/dls/images/i1@v-1', 'dls-version');
    await zfs.destroy('tank/dls/images/i1@v-1', { deferred: true });
    await zfs.destroy('tank/dls/clients', { recursive: true });
    expect(calls.map((c) => [c.file, ...c.args])).toEqual([
      ['/sbin/zfs', 'create', '-p', '-o', 'dls:managed=1', '-o', 'compression=off', 'tank/dls/images/i1'],
      ['/sbin/zfs', 'snapshot', '-o', 'dls:version-id=v1', 'tank/dls/images/i1@v-1'],
      ['/sbin/zfs', 'clone', '-o', 'dls:client-id=c1', 'tank/dls/images/i1@v-1', 'tank/dls/clients/c1'],
      ['/sbin/zfs', 'hold', 'dls-version', 'tank/dls/images/i1@v-1'],
      ['/sbin/zfs', 'destroy', '-d', 'tank/dls/images/i1@v-1'],
      ['/sbin/zfs', 'destroy', '-r', 'tank/dls/clients'],
    ]);
  });

  it('refuses a deferred destroy of a filesystem', async () => {
    const { runner, calls } = fakeRunner();
    await expect(new ZfsAdapter({ runner }).destroy('tank/a', { deferred: true })).rejects.toMatchObject({
      code: StorageErrorCode.INVALID_NAME,
    });
    expect(calls).toHaveLength(0);
  });
});

describe('ZfsAdapter parsing', () => {
  const getOutput = [
    'labpool/clients/pc001\tused\t67280896\t-',
    'labpool/clients/pc001\treferenced\t1074913280\t-',
    'labpool/clients/pc001\tusedbydataset\t67280896\t-',
    'labpool/clients/pc001\tdls:client\tpc001\tlocal',
    'labpool/clients/pc001\tdls:image-id\tabc\tinherited from labpool/clients',
    'labpool/clients/pc001\tdls:unset\t-\t-',
    'labpool/clients/pc001\torigin\tlabpool/images/win11@v1\t-',
    'labpool/clients/pc001\tcreation\t1795830296\t-',
    '',
  ].join('\n');

  it('parses zfs get -H -p output, including sources with spaces and unset values', () => {
    const table = parseZfsGet(getOutput);
    expect(zfsPropNumber(table, 'labpool/clients/pc001', 'used')).toBe(67280896);
    expect(zfsPropNumber(table, 'labpool/clients/pc001', 'referenced')).toBe(1074913280);
    expect(zfsPropValue(table, 'labpool/clients/pc001', 'origin')).toBe('labpool/images/win11@v1');
    expect(table.get('labpool/clients/pc001')?.get('dls:image-id')).toEqual({
      value: 'abc',
      source: 'inherited from labpool/clients',
    });
    expect(zfsPropValue(table, 'labpool/clients/pc001', 'dls:unset')).toBeUndefined();
    expect(zfsPropNumber(table, 'labpool/clients/pc001', 'dls:unset')).toBe(0);
    expect(zfsPropValue(table, 'nope', 'used')).toBeUndefined();
  });

  it('keeps a value that contains a TAB intact (set by someone else)', () => {
    const table = parseZfsGet('p/a\tdls:desc\ta\tb\tlocal\n');
    expect(table.get('p/a')?.get('dls:desc')).toEqual({ value: 'a\tb', source: 'local' });
  });

  it('runs get with -H -p -o name,property,value,source and optional -r/-d', async () => {
    const { runner, calls } = fakeRunner(() => ({ stdout: getOutput }));
    const zfs = new ZfsAdapter({ runner });
    const table = await zfs.get(['labpool/clients/pc001'], ['used', 'origin'], { recursive: true, depth: 1 });
    expect(calls[0].args).toEqual(['get', '-H', '-p', '-r', '-d', '1', '-o', 'name,property,value,source', 'used,origin', 'labpool/clients/pc001']);
    expect(zfsPropNumber(table, 'labpool/clients/pc001', 'usedbydataset')).toBe(67280896);
  });

  it('get with allowMissing returns what exists when only "does not exist" lines were printed', async () => {
    const { runner } = fakeRunner(() => ({
      code: 1,
      stdout: 'p/a\tused\t1\t-\n',
      stderr: "cannot open 'p/b': dataset does not exist\n",
    }));
    const zfs = new ZfsAdapter({ runner });
    const table = await zfs.get(['p/a', 'p/b'], ['used'], { allowMissing: true });
    expect([...table.keys()]).toEqual(['p/a']);
    await expect(zfs.get(['p/a', 'p/b'], ['used'])).rejects.toMatchObject({ code: StorageErrorCode.NOT_FOUND });
    expect(await zfs.getOne('p/b', ['used'])).toBeUndefined();
  });

  it('parses zfs list -H and zpool list -H', async () => {
    const { runner, calls } = fakeRunner((c) =>
      c.file === 'zpool'
        ? { stdout: 'labpool\tONLINE\n' }
        : { stdout: 'labpool/images\tfilesystem\nlabpool/images/w\tfilesystem\nlabpool/images/w@v1\tsnapshot\n' },
    );
    const zfs = new ZfsAdapter({ runner });
    expect(await zfs.list('labpool/images')).toEqual([
      { name: 'labpool/images', type: 'filesystem' },
      { name: 'labpool/images/w', type: 'filesystem' },
      { name: 'labpool/images/w@v1', type: 'snapshot' },
    ]);
    expect(calls[0].args).toEqual(['list', '-H', '-o', 'name,type', '-t', 'filesystem,snapshot', '-r', 'labpool/images']);
    expect(await zfs.poolHealth('labpool')).toBe('ONLINE');
    expect(calls[1]).toEqual({ file: 'zpool', args: ['list', '-H', '-o', 'name,health', 'labpool'] });
  });
});

describe('mapZfsFailure (the stderr catalogue)', () => {
  const r = (stderr: string, code: number | null = 1, extra: Partial<CommandResult> = {}): CommandResult => ({
    code,
    signal: null,
    stdout: '',
    stderr,
    timedOut: false,
    ...extra,
  });
  const cases: Array<[string, CommandResult, StorageErrorCode, Record<string, unknown>?]> = [
    ['create existing', r("cannot create 'P/images/win11': dataset already exists\n"), StorageErrorCode.ALREADY_EXISTS],
    ['snapshot existing', r("cannot create snapshot 'P/images/win11@v1': dataset already exists\n"), StorageErrorCode.ALREADY_EXISTS],
    ['missing dataset', r("cannot open 'P/nope': dataset does not exist\n"), StorageErrorCode.NOT_FOUND, { dataset: 'P/nope' }],
    ['missing pool (zfs)', r("cannot open 'nopool': dataset does not exist\n"), StorageErrorCode.POOL_UNAVAILABLE],
    ['missing pool (zpool)', r("cannot open 'nopool': no such pool\n"), StorageErrorCode.POOL_UNAVAILABLE],
    ['parent missing', r("cannot create 'P/a/b/c': parent does not exist\n"), StorageErrorCode.NOT_FOUND, { reason: 'parent' }],
    ['@ in fs name', r("cannot create 'P/bad@name': snapshot delimiter '@' in filesystem name\n"), StorageErrorCode.INVALID_NAME],
    [
      'fs with snapshots',
      r("cannot destroy 'P/x': filesystem has children\nuse '-r' to destroy the following datasets:\nP/x@v1\nP/x@v2\n"),
      StorageErrorCode.HAS_DEPENDENTS,
      { reason: 'children', dependents: ['P/x@v1', 'P/x@v2'] },
    ],
    [
      'snapshot with clones',
      r("cannot destroy 'P/x@v1': snapshot has dependent clones\nuse '-R' to destroy the following datasets:\nP/clients/c1\n"),
      StorageErrorCode.HAS_DEPENDENTS,
      { reason: 'clones', dependents: ['P/clients/c1'] },
    ],
    [
      'fs whose snapshot has clones',
      r("cannot destroy 'P/x': filesystem has dependent clones\nuse '-R' to destroy the following datasets:\nP/c/1\n"),
      StorageErrorCode.HAS_DEPENDENTS,
      { reason: 'clones', dependents: ['P/c/1'] },
    ],
    ['busy', r("cannot destroy 'P/x': dataset is busy\n"), StorageErrorCode.DATASET_BUSY],
    [
      'unmount with open files',
      r("umount: /P/x: target is busy.\ncannot unmount '/P/x': umount failed: umount child process failed\n"),
      StorageErrorCode.DATASET_BUSY,
      { reason: 'open-files' },
    ],
    ['not mounted', r("cannot unmount 'P/x': not currently mounted\n"), StorageErrorCode.NOT_FOUND, { reason: 'not-mounted' }],
    [
      'rollback with newer snapshots',
      r("cannot rollback to 'X@boot1': more recent snapshots exist\nuse '-r' to force deletion of the following snapshots:\nX@boot2\n"),
      StorageErrorCode.HAS_DEPENDENTS,
      { reason: 'newer-snapshots', dependents: ['X@boot2'] },
    ],
    ['promote non-clone', r("cannot promote 'X': not a cloned filesystem\n"), StorageErrorCode.COMMAND_FAILED],
    ['rename mounted clone', r("cannot rename 'X': dataset is busy\n"), StorageErrorCode.DATASET_BUSY],
    [
      'bad compression',
      r("cannot set property for 'X': 'compression' must be one of 'on | off | lzjb | gzip | gzip-[1-9] | zle'\n"),
      StorageErrorCode.INVALID_NAME,
    ],
    ['upper-case user prop', r("cannot set property for 'X': invalid property 'DLS:Upper'\n"), StorageErrorCode.INVALID_NAME],
    ['empty value', r('missing value in property=value argument\nusage:\n\tset <property=value> ...\n', 2), StorageErrorCode.INVALID_NAME],
    ['unknown property', r("bad property list: invalid property 'written'\nusage:\n\tget [-rHp] ...\n", 2), StorageErrorCode.INVALID_NAME],
    ['unknown option', r("invalid option 'p'\nusage:\n\tlist [-rH]...\n", 2), StorageErrorCode.COMMAND_FAILED, { reason: 'usage' }],
    [
      'release missing tag',
      r("cannot release 'keep' from 'X@held': no such tag on this dataset\n"),
      StorageErrorCode.NOT_FOUND,
      { reason: 'hold-tag' },
    ],
    ['hold existing tag', r("cannot hold 'X@v': tag already exists on this dataset\n"), StorageErrorCode.ALREADY_EXISTS],
    [
      'zfs holds',
      r('internal error: /usr/lib/zfs/pyzfs.py not found\n', 255),
      StorageErrorCode.COMMAND_FAILED,
      { infrastructure: true, reason: 'unsupported' },
    ],
    ['zvol', r('internal error: Function not implemented\n', 134), StorageErrorCode.COMMAND_FAILED, { infrastructure: true, reason: 'unsupported' }],
    [
      'daemon down',
      r('connect: Connection refused\nPlease make sure that the zfs-fuse daemon is running.\ninternal error: failed to initialize ZFS library\n'),
      StorageErrorCode.DAEMON_DOWN,
    ],
    ['connection reset (rc 134)', r('internal error: Connection reset by peer\n', 134), StorageErrorCode.DAEMON_DOWN],
    ['killed (137)', r('', 137), StorageErrorCode.COMMAND_FAILED, { infrastructure: true }],
    ['killed by signal', r('', null, { signal: 'SIGKILL' }), StorageErrorCode.COMMAND_FAILED, { infrastructure: true }],
    ['timeout', r('', null, { signal: 'SIGKILL', timedOut: true }), StorageErrorCode.TIMEOUT],
    ['out of space', r("cannot create 'P/x': out of space\n"), StorageErrorCode.NO_SPACE],
    ['already mounted', r("cannot mount 'P/x': filesystem already mounted\n"), StorageErrorCode.ALREADY_EXISTS],
    ['anything else', r('something odd\n'), StorageErrorCode.COMMAND_FAILED],
    // zfs send / zfs receive (zfs-fuse 0.7 texts)
    ['send of a missing snapshot', r('WARNING: could not send P/x@nope: does not exist\n'), StorageErrorCode.NOT_FOUND],
    ['send from a missing base', r("warning: cannot send 'P/x@v2': incremental source (@nope) does not exist\n"), StorageErrorCode.NOT_FOUND],
    [
      'truncated stream',
      r('cannot receive new filesystem stream: invalid backup stream\n'),
      StorageErrorCode.COMMAND_FAILED,
      { reason: 'invalid-stream' },
    ],
    [
      'incremental on another snapshot',
      r('cannot receive incremental stream: most recent snapshot of P/x does not\nmatch incremental source\n'),
      StorageErrorCode.HAS_DEPENDENTS,
      { reason: 'incremental-source' },
    ],
    [
      'full stream into an fs with snapshots',
      r('cannot receive new filesystem stream: destination has snapshots (eg. P/x@v2)\nmust destroy them to overwrite it\n'),
      StorageErrorCode.HAS_DEPENDENTS,
      { reason: 'snapshots' },
    ],
    [
      'full stream into an existing fs without -F',
      r("cannot receive new filesystem stream: destination 'P/x' exists\n"),
      StorageErrorCode.ALREADY_EXISTS,
    ],
  ];

  it.each(cases.map(([label, result, code, details]) => ({ label, result, code, details: details ?? {} })))('$label', ({ result, code, details }) => {
    const err = mapZfsFailure('zfs', ['destroy', 'P/x'], result);
    expect(err).toBeInstanceOf(StorageError);
    expect(err.code).toBe(code);
    expect(err.details).toMatchObject({ command: 'zfs destroy P/x', ...details });
    if (result.stderr) expect(err.message).toContain(result.stderr.split('\n')[0].trim().slice(0, 50));
  });

  it('truncates long usage texts in details', () => {
    const usage = `invalid option 'p'\nusage:\n${'\tline\n'.repeat(200)}`;
    const err = mapZfsFailure('zfs', ['list'], r(usage, 2));
    expect(String(err.details?.stderr).split('\n').length).toBeLessThanOrEqual(6);
  });
});

describe('ZfsAdapter busy retry', () => {
  function clock() {
    let t = 0;
    const sleeps: number[] = [];
    return {
      now: () => t,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        t += ms;
      },
      sleeps,
    };
  }
  const busy = (name: string) => fail(`cannot destroy '${name}': dataset is busy\n`);

  it('retries destroy of a busy filesystem with exponential back-off until it succeeds', async () => {
    let n = 0;
    const { runner, calls } = fakeRunner(() => (++n <= 3 ? busy('p/c') : {}));
    const c = clock();
    const zfs = new ZfsAdapter({ runner, ...c, busyRetry: { initialMs: 100, maxMs: 10_000 } });
    await zfs.destroy('p/c');
    expect(calls).toHaveLength(4);
    expect(c.sleeps).toEqual([100, 200, 400]);
  });

  it('caps each delay and gives up after maxMs with DATASET_BUSY', async () => {
    const { runner } = fakeRunner(() => busy('p/c'));
    const c = clock();
    const zfs = new ZfsAdapter({ runner, ...c, busyRetry: { initialMs: 100, maxMs: 3_000, maxDelayMs: 800 } });
    const err = await caught(zfs.destroy('p/c'));
    expect(err.code).toBe(StorageErrorCode.DATASET_BUSY);
    expect(c.sleeps).toEqual([100, 200, 400, 800, 800]);
    expect(err.details).toMatchObject({ attempts: 6 });
  });

  it('does not retry a held snapshot (userrefs > 0)', async () => {
    const { runner, calls } = fakeRunner((call) => (call.args[0] === 'get' ? { stdout: 'p/i@v1\tuserrefs\t1\t-\n' } : busy('p/i@v1')));
    const c = clock();
    const zfs = new ZfsAdapter({ runner, ...c });
    const err = await caught(zfs.destroy('p/i@v1'));
    expect(err).toMatchObject({ code: StorageErrorCode.DATASET_BUSY, details: { reason: 'held', userrefs: 1 } });
    expect(calls.map((x) => x.args[0])).toEqual(['destroy', 'get']);
    expect(c.sleeps).toEqual([]);
  });

  it('retries a busy snapshot without holds', async () => {
    let destroys = 0;
    const { runner } = fakeRunner((call) =>
      call.args[0] === 'get' ? { stdout: 'p/i@v1\tuserrefs\t0\t-\n' } : ++destroys === 1 ? busy('p/i@v1') : {},
    );
    const c = clock();
    await new ZfsAdapter({ runner, ...c }).destroy('p/i@v1');
    expect(destroys).toBe(2);
  });

  it('does not retry when retryBusy is false, nor for non-idempotent commands', async () => {
    const { runner, calls } = fakeRunner(() => busy('p/c'));
    const c = clock();
    const zfs = new ZfsAdapter({ runner, ...c });
    await expect(zfs.destroy('p/c', { retryBusy: false })).rejects.toMatchObject({ code: StorageErrorCode.DATASET_BUSY });
    await expect(zfs.create('p/c')).rejects.toMatchObject({ code: StorageErrorCode.DATASET_BUSY });
    await expect(zfs.unmount('p/c')).rejects.toMatchObject({ code: StorageErrorCode.DATASET_BUSY });
    expect(calls).toHaveLength(3);
    expect(c.sleeps).toEqual([]);
  });

  it('retries rename and rollback', async () => {
    const seen = new Map<string, number>();
    const { runner, calls } = fakeRunner((call) => {
      if (call.args[0] === 'get') return { stdout: 'p/a@s1\tuserrefs\t0\t-\n' };
      const n = (seen.get(call.args[0]) ?? 0) + 1;
      seen.set(call.args[0], n);
      return n === 1 ? fail(`cannot ${call.args[0]} 'p/a': dataset is busy\n`) : {};
    });
    const zfs = new ZfsAdapter({ runner, ...clock() });
    await zfs.rename('p/a', 'p/b');
    await zfs.rollback('p/a@s1');
    expect(calls.map((c) => c.args[0])).toEqual(['rename', 'rename', 'rollback', 'get', 'rollback']);
  });
});

describe('ZfsAdapter queue and idempotent helpers', () => {
  it('serialises mutating calls in FIFO order while reads run alongside', async () => {
    let active = 0;
    let peak = 0;
    const order: string[] = [];
    let releaseFirst!: () => void;
    const firstGate = new Promise<void>((r) => (releaseFirst = r));
    const { runner } = fakeRunner(async (call) => {
      if (call.args[0] === 'get') {
        order.push('get');
        return { stdout: '' };
      }
      active += 1;
      peak = Math.max(peak, active);
      order.push(`${call.args[0]}:${call.args[call.args.length - 1]}`);
      if (order.length === 1) await firstGate;
      active -= 1;
      return {};
    });
    const zfs = new ZfsAdapter({ runner });
    const p1 = zfs.create('p/a');
    const p2 = zfs.create('p/b');
    const p3 = zfs.snapshot('p/a@s');
    await new Promise((r) => setImmediate(r));
    await zfs.get(['p/a'], ['used']);
    expect(order).toEqual(['create:p/a', 'get']);
    releaseFirst();
    await Promise.all([p1, p2, p3]);
    expect(order).toEqual(['create:p/a', 'get', 'create:p/b', 'snapshot:p/a@s']);
    expect(peak).toBe(1);
  });

  it('treats "not currently mounted" on unmount and "already mounted" on mount as success', async () => {
    const { runner } = fakeRunner((call) =>
      call.args[0] === 'umount' ? fail("cannot unmount 'p/a': not currently mounted\n") : fail("cannot mount 'p/a': filesystem already mounted\n"),
    );
    const zfs = new ZfsAdapter({ runner });
    await expect(zfs.unmount('p/a')).resolves.toBeUndefined();
    await expect(zfs.mount('p/a')).resolves.toBeUndefined();
  });

  it('retries a mount that is busy because an unmount is still settling', async () => {
    let calls = 0;
    const { runner } = fakeRunner(() => (++calls === 1 ? fail("cannot mount 'p/a': mountpoint or dataset is busy\n") : {}));
    const zfs = new ZfsAdapter({ runner, sleep: async () => undefined });
    await expect(zfs.mountAll()).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });

  it('reports a missing binary as an infrastructure COMMAND_FAILED', async () => {
    const zfs = new ZfsAdapter({
      runner: () => Promise.reject(Object.assign(new Error('spawn zfs ENOENT'), { code: 'ENOENT' })),
    });
    await expect(zfs.mountAll()).rejects.toMatchObject({
      code: StorageErrorCode.COMMAND_FAILED,
      details: { infrastructure: true },
    });
  });

  it('maps a missing pool in poolHealth to POOL_UNAVAILABLE', async () => {
    const { runner } = fakeRunner(() => fail("cannot open 'nopool': no such pool\n"));
    await expect(new ZfsAdapter({ runner }).poolHealth('nopool')).rejects.toMatchObject({
      code: StorageErrorCode.POOL_UNAVAILABLE,
    });
  });
});

/** A fake streaming process: the test writes its stdout/stderr, reads its stdin and decides when (and how) it exits. */
function fakeProcess() {
  let exit!: (code: number | null, signal?: NodeJS.Signals | null) => void;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    exit = (code, signal = null) => resolve({ code, signal });
  });
  const proc = {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    exited,
    killed: 0,
    kill: () => {
      proc.killed += 1;
      proc.stdout.end();
      exit(null, 'SIGKILL');
    },
  };
  /** Output `stderr`, close the pipes, then exit with `code` (as a real process: streams close before `close`). */
  const finish = (code: number, stderr = ''): void => {
    proc.stderr.end(stderr);
    proc.stdout.end();
    setImmediate(() => exit(code));
  };
  return { proc, finish };
}

function fakeSpawner() {
  const spawned: Array<{
    file: string;
    args: string[];
    proc: ReturnType<typeof fakeProcess>['proc'];
    finish: (code: number, stderr?: string) => void;
  }> = [];
  const streamSpawner = (file: string, args: readonly string[]): StreamingProcess => {
    const { proc, finish } = fakeProcess();
    spawned.push({ file, args: [...args], proc, finish });
    return proc;
  };
  return { streamSpawner, spawned };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const tick = () => new Promise((r) => setImmediate(r));

describe('ZfsAdapter send/receive streams', () => {
  it('sends a full or an incremental stream (argv only, names validated first)', async () => {
    const { streamSpawner, spawned } = fakeSpawner();
    const zfs = new ZfsAdapter({ streamSpawner, zfsBinary: '/sbin/zfs' });
    zfs.sendStream('tank/dls/images/i1@v-2').destroy();
    zfs.sendStream('tank/dls/images/i1@v-2', { base: 'tank/dls/images/i1@v-1' }).destroy();
    expect(spawned.map((s) => [s.file, ...s.args])).toEqual([
      ['/sbin/zfs', 'send', 'tank/dls/images/i1@v-2'],
      ['/sbin/zfs', 'send', '-i', '@v-1', 'tank/dls/images/i1@v-2'],
    ]);
    expect(() => zfs.sendStream('tank/dls/images/i1@v-2', { base: 'tank/dls/images/other@v-1' })).toThrow(StorageError);
    expect(() => zfs.sendStream('tank/a;id@v')).toThrow(StorageError);
    expect(() => zfs.sendStream('tank/a@v', { base: 'tank/a@$(id)' })).toThrow(StorageError);
    expect(spawned).toHaveLength(2);
  });

  it('passes the bytes through and ends the stream only once zfs send exited 0', async () => {
    const { streamSpawner, spawned } = fakeSpawner();
    const zfs = new ZfsAdapter({ streamSpawner });
    const stream = zfs.sendStream('tank/a@v-1');
    let ended = false;
    const body = collect(stream).finally(() => (ended = true));
    spawned[0].proc.stdout.write(Buffer.from('abc'));
    spawned[0].proc.stdout.end(Buffer.from('def'));
    await tick();
    await tick();
    expect(ended).toBe(false); // stdout is done, the process is not: no end yet
    spawned[0].finish(0);
    expect((await body).toString()).toBe('abcdef');
  });

  it('fails the stream with the mapped StorageError when zfs send exits non-zero, even after its stdout ended', async () => {
    const { streamSpawner, spawned } = fakeSpawner();
    const zfs = new ZfsAdapter({ streamSpawner });
    const stream = zfs.sendStream('tank/a@v-1');
    const body = collect(stream);
    spawned[0].proc.stdout.write(Buffer.from('partial'));
    spawned[0].finish(1, 'WARNING: could not send tank/a@v-1: does not exist\n');
    await expect(body).rejects.toMatchObject({ name: 'StorageError', code: StorageErrorCode.NOT_FOUND });
  });

  it('kills zfs send when the stream is destroyed (and not after it ended)', async () => {
    const { streamSpawner, spawned } = fakeSpawner();
    const zfs = new ZfsAdapter({ streamSpawner });
    const stream = zfs.sendStream('tank/a@v-1');
    stream.destroy();
    await tick();
    expect(spawned[0].proc.killed).toBe(1);

    const done = zfs.sendStream('tank/a@v-2');
    const body = collect(done);
    spawned[1].finish(0);
    await body;
    await tick();
    expect(spawned[1].proc.killed).toBe(0);
  });

  it('receives: pipes the input into zfs receive -F ds@snap and resolves when it exits 0', async () => {
    const { streamSpawner, spawned } = fakeSpawner();
    const zfs = new ZfsAdapter({ streamSpawner });
    const input = Readable.from([Buffer.from('stream-'), Buffer.from('bytes')]);
    const p = zfs.receive('tank/dls/images/i1@v-1', input, { force: true });
    const got = collect(spawned[0].proc.stdin);
    expect(spawned[0].args).toEqual(['receive', '-F', 'tank/dls/images/i1@v-1']);
    expect((await got).toString()).toBe('stream-bytes');
    spawned[0].finish(0);
    await expect(p).resolves.toBeUndefined();
    await expect(zfs.receive('tank/a', Readable.from([]))).rejects.toMatchObject({ code: StorageErrorCode.INVALID_NAME });
    expect(spawned).toHaveLength(1);
  });

  it("maps zfs receive's failure and destroys the input it did not read", async () => {
    const { streamSpawner, spawned } = fakeSpawner();
    const zfs = new ZfsAdapter({ streamSpawner });
    const input = new PassThrough();
    const p = zfs.receive('tank/a@v-3', input, { force: true });
    spawned[0].finish(1, 'cannot receive incremental stream: most recent snapshot of tank/a does not\nmatch incremental source\n');
    await expect(p).rejects.toMatchObject({ code: StorageErrorCode.HAS_DEPENDENTS, details: { reason: 'incremental-source' } });
    expect(input.destroyed).toBe(true);
  });

  it('on an input that breaks half way: gives zfs receive EOF (so it drops the partial receive), waits for it, fails with reason stream', async () => {
    const { streamSpawner, spawned } = fakeSpawner();
    const zfs = new ZfsAdapter({ streamSpawner });
    const input = new PassThrough();
    const p = zfs.receive('tank/a@v-1', input, { force: true });
    const stdin = collect(spawned[0].proc.stdin);
    input.write(Buffer.from('half'));
    input.destroy(new Error('connection reset'));
    expect((await stdin).toString()).toBe('half'); // stdin ended: EOF, no kill
    expect(spawned[0].proc.killed).toBe(0);
    let settled = false;
    void p.catch(() => undefined).finally(() => (settled = true));
    await tick();
    expect(settled).toBe(false); // it waits for zfs to finish with the partial receive
    spawned[0].finish(1, 'cannot receive new filesystem stream: invalid backup stream\n');
    const err = await p.catch((e: StorageError) => e);
    expect(err).toMatchObject({
      name: 'StorageError',
      code: StorageErrorCode.COMMAND_FAILED,
      details: { reason: 'stream', cause: 'connection reset' },
    });
  });

  it('reports a binary that cannot start as an infrastructure COMMAND_FAILED', async () => {
    const zfs = new ZfsAdapter({
      streamSpawner: () => {
        const { proc } = fakeProcess();
        return { ...proc, exited: Promise.reject(Object.assign(new Error('spawn zfs ENOENT'), { code: 'ENOENT' })) };
      },
    });
    await expect(collect(zfs.sendStream('tank/a@v-1'))).rejects.toMatchObject({
      code: StorageErrorCode.COMMAND_FAILED,
      details: { infrastructure: true },
    });
    await expect(zfs.receive('tank/a@v-1', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({
      code: StorageErrorCode.COMMAND_FAILED,
      details: { infrastructure: true },
    });
  });
});
