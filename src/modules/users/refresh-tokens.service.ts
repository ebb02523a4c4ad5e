import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, IsNull, MoreThan, Repository } from 'typeorm';
import { RefreshToken } from './refresh-token.entity';

/**
 * A user's refresh tokens, kept only as SHA-256 hashes. The users module owns them with the rest of a user's
 * credentials (UsersService revokes them on a password change, disabling or deletion); AuthService issues,
 * rotates and revokes them through this service.
 */
@Injectable()
export class RefreshTokensService {
  constructor(@InjectRepository(RefreshToken) private readonly tokens: Repository<RefreshToken>) {}

  async issue(userId: string, tokenHash: string, expiresAt: Date): Promise<void> {
    await this.tokens.insert({ userId, tokenHash, expiresAt });
  }

  /** Revokes a live, unexpired token in one statement and returns its user (single use), or null. */
  async consume(tokenHash: string): Promise<string | null> {
    const r = await this.tokens
      .createQueryBuilder()
      .update(RefreshToken)
      .set({ revokedAt: () => 'now()' })
      .where('token_hash = :hash AND revoked_at IS NULL AND expires_at > now()', { hash: tokenHash })
      .returning(['userId'])
      .execute();
    return userIdOf(r.raw);
  }

  /** The unexpired token with this hash, revoked or not (to spot a rotated token presented again), or null. */
  findUnexpired(tokenHash: string): Promise<RefreshToken | null> {
    return this.tokens.findOne({ where: { tokenHash, expiresAt: MoreThan(new Date()) } });
  }

  /** Revokes one live token and returns its user; unknown or already revoked tokens are not an error (null). */
  async revoke(tokenHash: string): Promise<string | null> {
    const r = await this.tokens
      .createQueryBuilder()
      .update(RefreshToken)
      .set({ revokedAt: () => 'now()' })
      .where('token_hash = :hash AND revoked_at IS NULL', { hash: tokenHash })
      .returning(['userId'])
      .execute();
    return userIdOf(r.raw);
  }

  /** Revokes every live refresh token of the user (inside the caller's transaction when `m` is given). */
  async revokeAllOf(userId: string, m: EntityManager = this.tokens.manager): Promise<void> {
    await m.update(RefreshToken, { userId, revokedAt: IsNull() }, { revokedAt: new Date() });
  }
}

/** The user id of the first row an `UPDATE … RETURNING user_id` touched, or null. */
function userIdOf(raw: unknown): string | null {
  const row = (raw as { user_id?: string; userId?: string }[])[0];
  return row?.user_id ?? row?.userId ?? null;
}
