import * as argon2 from 'argon2';
import { randomBytes } from 'node:crypto';

/** argon2id with the library defaults (m=64 MiB, t=3, p=4): every stored hash and the dummy use the same cost. */
const OPTIONS = { type: argon2.argon2id } as const;

/** Hashes a password for storage (argon2id, PHC string with salt and parameters). */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

/** True when `password` matches `hash`; false (never a throw) for a malformed hash. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** A random password for the generated first admin: 24 URL-safe characters (144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
