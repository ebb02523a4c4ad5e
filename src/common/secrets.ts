import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * Returns the secret stored in `<dataDir>/secrets/<name>`, creating a random one (mode 0600) on first use,
 * so generated secrets (JWT signing key, CHAP derivation key) survive restarts.
 */
export async function loadOrCreateSecret(dataDir: string, name: string, bytes = 48): Promise<string> {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`bad secret name ${name}`);
  const dir = path.join(dataDir, 'secrets');
  const file = path.join(dir, name);
  try {
    const v = (await fs.readFile(file, 'utf8')).trim();
    if (v.length >= 32) return v;
  } catch {
    /* first start */
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const value = randomBytes(bytes).toString('base64url');
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, value + '\n', { mode: 0o600 });
  try {
    await fs.link(tmp, file); // atomic create-if-absent: a concurrent first start keeps one value
  } catch {
    /* another process won; use its value */
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return (await fs.readFile(file, 'utf8')).trim();
}
