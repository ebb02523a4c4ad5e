import { Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { loadOrCreateSecret } from '@common/secrets';
import { AppConfig } from '@config/config.loader';

/** Injection token of the access tokens' HMAC key (a string). */
export const JWT_SECRET = 'dls:jwt-secret';
/** `iss` of every access token; signing and verification both insist on it. */
export const JWT_ISSUER = 'dls';

/**
 * The secret named `name` in `shared_secrets`, created once by whichever node comes first: with `seed` (this node's
 * earlier secret from its data dir, so an install moving to several nodes keeps its logins valid), else random.
 */
export async function sharedSecret(ds: DataSource, name: string, seed: string | null): Promise<string> {
  await ds.query(`INSERT INTO shared_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [
    name,
    seed ?? randomBytes(48).toString('base64url'),
  ]);
  const rows = await ds.query<{ value: string }[]>(`SELECT value FROM shared_secrets WHERE name = $1`, [name]);
  return rows[0].value;
}

/**
 * Resolves the access tokens' HMAC key once — so signing (JwtModule, root module) and verification (JwtStrategy)
 * cannot disagree about it: `JWT_SECRET` when set; else, on an external PostgreSQL (where several nodes may share the
 * database), one key kept in the database for every node; else (the embedded database: one node) a key generated once
 * and kept in the data dir.
 */
@Module({
  providers: [
    {
      provide: JWT_SECRET,
      inject: [AppConfig, getDataSourceToken()],
      useFactory: async (c: AppConfig, ds: DataSource) => {
        if (c.auth.jwtSecret) return c.auth.jwtSecret;
        if (!c.database.url) return loadOrCreateSecret(c.dataDir, 'jwt-secret');
        const earlier = await fs.readFile(path.join(c.dataDir, 'secrets', 'jwt-secret'), 'utf8').then(
          (v) => (v.trim().length >= 32 ? v.trim() : null),
          () => null,
        );
        return sharedSecret(ds, 'jwt-secret', earlier);
      },
    },
  ],
  exports: [JWT_SECRET],
})
export class JwtSecretModule {}
