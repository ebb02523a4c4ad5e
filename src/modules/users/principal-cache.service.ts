import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Role } from '@common/auth/role';
import { User } from './user.entity';

interface PrincipalState {
  enabled: boolean;
  role: Role;
  username: string;
}

/**
 * Explicit cache of each user's `enabled` flag and role, so checking an access token (JwtStrategy, auth module)
 * needs no database round trip per request while a disabled or demoted user loses access at once: UsersService
 * calls `invalidate()` on every change.
 */
@Injectable()
export class PrincipalCache {
  private readonly states = new Map<string, PrincipalState>();

  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  async get(userId: string): Promise<PrincipalState | null> {
    const hit = this.states.get(userId);
    if (hit) return hit;
    const u = await this.users.findOne({ where: { id: userId }, select: { id: true, enabled: true, role: true, username: true } });
    if (!u) return null;
    const state = { enabled: u.enabled, role: u.role, username: u.username };
    if (this.states.size > 10_000) this.states.clear();
    this.states.set(userId, state);
    return state;
  }

  invalidate(userId: string): void {
    this.states.delete(userId);
  }
}
