import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Role } from '@common/auth/role';
import { User } from './user.entity';

/** What an access-token check needs to know about its user now. */
export interface PrincipalState {
  enabled: boolean;
  role: Role;
  username: string;
  /** The user's current token generation; an access token issued under another one is revoked. */
  tokenGeneration: number;
}

/**
 * Explicit cache of each user's `enabled` flag, role and token generation, so checking an access token (JwtStrategy,
 * auth module) needs no database round trip per request while a disabled, demoted or logged-out user loses access
 * at once: UsersService calls `invalidate()` after every change it commits.
 *
 * A read that overlaps an invalidation is answered but not cached (it may have read the row before the change).
 */
@Injectable()
export class PrincipalCache {
  private readonly states = new Map<string, PrincipalState>();
  /** Bumped by every `invalidate()`; a lookup caches its row only if no invalidation happened meanwhile. */
  private invalidations = 0;

  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  async get(userId: string): Promise<PrincipalState | null> {
    const hit = this.states.get(userId);
    if (hit) return hit;
    const seen = this.invalidations;
    const u = await this.users.findOne({
      where: { id: userId },
      select: { id: true, enabled: true, role: true, username: true, tokenGeneration: true },
    });
    if (!u) return null;
    const state = { enabled: u.enabled, role: u.role, username: u.username, tokenGeneration: u.tokenGeneration };
    if (seen !== this.invalidations) return state;
    if (this.states.size > 10_000) this.states.clear();
    this.states.set(userId, state);
    return state;
  }

  invalidate(userId: string): void {
    this.invalidations++;
    this.states.delete(userId);
  }
}
