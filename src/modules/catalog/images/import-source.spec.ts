import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openImportSource } from './import-source';

describe('openImportSource', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'dls-import-spec-')));
    await fs.mkdir(path.join(root, 'data', 'secrets'), { recursive: true });
    await fs.mkdir(path.join(root, 'data', 'import'), { recursive: true });
    await fs.writeFile(path.join(root, 'data', 'secrets', 'jwt-secret'), 'x');
    await fs.writeFile(path.join(root, 'data', 'import', 'ok.raw'), 'disk');
    await fs.writeFile(path.join(root, 'outside.raw'), 'disk');
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });
  const open = async (p: string, importDir: string, dataDir = path.join(root, 'data')) => {
    const s = await openImportSource(p, { importDir, dataDir });
    await s.handle.close();
    return s;
  };

  it('opens a regular file inside the import dir and reports its real path and size', async () => {
    const s = await open(path.join(root, 'data', 'import', 'ok.raw'), path.join(root, 'data', 'import'));
    expect(s).toMatchObject({ realPath: path.join(root, 'data', 'import', 'ok.raw'), size: 4 });
    expect(s.readPath).toMatch(/^\/proc\/self\/fd\/\d+$/);
  });

  it('refuses everything when the import dir is the data dir itself or holds its state', async () => {
    await expect(open(path.join(root, 'data', 'secrets', 'jwt-secret'), path.join(root, 'data'))).rejects.toMatchObject({
      kind: 'validation',
      details: { field: 'path', reason: 'import-dir-overlaps-state' },
    });
    await expect(open(path.join(root, 'data', 'secrets', 'jwt-secret'), path.join(root, 'data', 'secrets'))).rejects.toMatchObject({
      details: { reason: 'import-dir-overlaps-state' },
    });
  });

  it('when the import dir contains the data dir, files in the data dir stay out of reach', async () => {
    await expect(open(path.join(root, 'data', 'secrets', 'jwt-secret'), root)).rejects.toMatchObject({ details: { reason: 'in-data-dir' } });
    await expect(open(path.join(root, 'outside.raw'), root)).resolves.toMatchObject({ size: 4 });
  });

  it('refuses relative paths and control characters; 404 for a missing file inside, 400 outside', async () => {
    const imp = path.join(root, 'data', 'import');
    await expect(open('ok.raw', imp)).rejects.toMatchObject({ kind: 'validation', details: { reason: 'not-absolute' } });
    await expect(open(`${imp}/a\nb`, imp)).rejects.toMatchObject({ kind: 'validation' });
    await expect(open(`${imp}/missing.raw`, imp)).rejects.toMatchObject({ kind: 'not_found', details: { field: 'path' } });
    await expect(open(`${root}/missing.raw`, imp)).rejects.toMatchObject({ kind: 'validation', details: { reason: 'outside-import-dir' } });
  });
});
