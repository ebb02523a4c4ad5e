import { Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { ConflictError, NotFoundError } from '@common/errors/domain-error';
import { AppConfig } from '@config/config.loader';
import { RefreshTokensService } from './refresh-tokens.service';
import { CreateUserDto } from './dto/create-user.dto';
import { ListUsersQueryDto, USER_SORT } from './dto/list-users.query.dto';
import { parseSort, prefixPattern } from '@common/list-query';
import { UpdateUserDto } from './dto/update-user.dto';
import { UserDto, UserPageDto } from './dto/user.dto';
import { generatePassword, hashPassword, verifyPassword } from './password';
import { PrincipalCache } from './principal-cache.service';
import { Role } from '@common/auth/role';
import { User } from './user.entity';
import { UsersErrorCode } from './users.errors';
import { isUniqueViolation } from '@common/errors/pg-errors';
import { checkVersion, VersionPrecondition } from '@common/etag/etag';

/** Serialises changes that could remove the last enabled admin (two admins demoting each other at once). */
const LAST_ADMIN_LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtext('dls:users:last-admin'))`;

/**
 * Users and their credentials. Admin CRUD for the API, credential checks for AuthService, and the first admin at
 * start-up. Every change invalidates the user's PrincipalCache entry, so a disabled or demoted user loses access at
 * once; disabling, deleting or a password change also revokes the user's refresh tokens and (token generation)
 * every access token issued before.
 */
@Injectable()
export class UsersService implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(UsersService.name);
  /** A hash of a random password, verified against for unknown users so response time does not tell them apart. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly config: AppConfig,
    private readonly principals: PrincipalCache,
    private readonly refreshTokens: RefreshTokensService,
  ) {}

  onModuleInit(): void {
    this.dummyHash = hashPassword(generatePassword());
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.ensureInitialAdmin();
  }

  /**
   * When no user exists, creates the admin named by `config.auth.adminUser`. Without a configured password one is
   * generated and logged once (this start only; later starts find a user and do nothing). Concurrent first starts
   * race on the unique username: the loser swallows the violation and prints nothing.
   */
  async ensureInitialAdmin(): Promise<void> {
    if (await this.users.exists({})) return;
    const { adminUser, adminPassword } = this.config.auth;
    const password = adminPassword ?? generatePassword();
    try {
      await this.users.insert({ username: adminUser, passwordHash: await hashPassword(password), role: Role.Admin, enabled: true });
    } catch (e) {
      if (isUniqueViolation(e)) return;
      throw e;
    }
    if (adminPassword) {
      this.logger.log(`created the first admin user "${adminUser}" with the configured password`);
    } else {
      this.logger.warn(
        [
          '',
          '==================== INITIAL ADMIN CREDENTIALS (shown once) ====================',
          `  username: ${adminUser}`,
          `  password: ${password}`,
          '  Log in and change this password; it will not be printed again.',
          '================================================================================',
        ].join('\n'),
      );
    }
  }

  async list(q: ListUsersQueryDto): Promise<UserPageDto> {
    const qb = this.users.createQueryBuilder('u');
    if (q.q !== undefined) qb.andWhere('lower(u.username) LIKE :qp', { qp: prefixPattern(q.q.toLowerCase()) });
    const sort = parseSort(q.sort, USER_SORT) ?? { column: USER_SORT.username, direction: 'ASC' };
    qb.orderBy(sort.column, sort.direction, sort.direction === 'ASC' ? 'NULLS FIRST' : 'NULLS LAST')
      .addOrderBy('u.id', 'ASC')
      .take(q.limit)
      .skip(q.offset);
    const [rows, total] = await qb.getManyAndCount();
    return { items: rows.map(UserDto.from), total };
  }

  async get(id: string): Promise<UserDto> {
    return UserDto.from(await this.findOrFail(this.users.manager, id));
  }

  async create(dto: CreateUserDto): Promise<UserDto> {
    const taken = () => new ConflictError(UsersErrorCode.USERNAME_TAKEN, `user "${dto.username}" already exists`);
    // Pre-check spares an argon2 hash and a failed INSERT (whose parameters TypeORM would log); the unique
    // constraint still decides races.
    if (await this.users.exists({ where: { username: dto.username } })) throw taken();
    const passwordHash = await hashPassword(dto.password);
    let id: string;
    try {
      const r = await this.users.insert({ username: dto.username, passwordHash, role: dto.role, enabled: true });
      id = r.identifiers[0].id as string;
    } catch (e) {
      if (isUniqueViolation(e)) throw taken();
      throw e;
    }
    this.principals.invalidate(id);
    return this.get(id);
  }

  /**
   * Changes password, role and/or enabled. Refuses (409 LAST_ADMIN) to disable or demote the last enabled admin. With
   * `expected` (If-Match) only while the user is still at that version (412 otherwise; checked on the locked row).
   */
  async update(id: string, dto: UpdateUserDto, expected?: VersionPrecondition): Promise<UserDto> {
    const passwordHash = dto.password !== undefined ? await hashPassword(dto.password) : undefined;
    const user = await this.ds.transaction(async (m) => {
      await m.query(LAST_ADMIN_LOCK_SQL);
      const u = await this.findOrFail(m, id, true);
      checkVersion(expected, u.version, `user ${id}`);
      const losesAdmin = u.role === Role.Admin && u.enabled && ((dto.role !== undefined && dto.role !== Role.Admin) || dto.enabled === false);
      if (losesAdmin) await this.assertAnotherAdmin(m, u, dto.enabled === false ? 'disable' : 'demote');
      const changes: Partial<User> = {};
      if (passwordHash !== undefined) changes.passwordHash = passwordHash;
      if (dto.role !== undefined) changes.role = dto.role;
      if (dto.enabled !== undefined) changes.enabled = dto.enabled;
      if (Object.keys(changes).length) await m.update(User, { id }, changes);
      if (passwordHash !== undefined || dto.enabled === false) await this.revokeSessionsIn(m, id);
      return this.findOrFail(m, id);
    });
    this.principals.invalidate(id);
    return UserDto.from(user);
  }

  /** Deletes a user (its refresh tokens go with it). Refuses (409 LAST_ADMIN) for the last enabled admin. */
  async remove(id: string): Promise<void> {
    await this.ds.transaction(async (m) => {
      await m.query(LAST_ADMIN_LOCK_SQL);
      const u = await this.findOrFail(m, id);
      if (u.role === Role.Admin && u.enabled) await this.assertAnotherAdmin(m, u, 'delete');
      await this.refreshTokens.revokeAllOf(id, m);
      await m.delete(User, { id });
    });
    this.principals.invalidate(id);
  }

  /**
   * The user whose username and password match, enabled or not (the caller decides), or null. Unknown users cost
   * the same argon2 verify as known ones.
   */
  async verifyCredentials(username: string, password: string): Promise<User | null> {
    const user = await this.users.findOne({ where: { username } });
    if (!user) {
      await verifyPassword(await this.getDummyHash(), password);
      return null;
    }
    return (await verifyPassword(user.passwordHash, password)) ? user : null;
  }

  /** The user row by id, or null (used by token refresh to re-check `enabled` and the current role). */
  findById(id: string): Promise<User | null> {
    return this.users.findOne({ where: { id } });
  }

  /**
   * Ends every session of the user: revokes all its refresh tokens and, by moving its token generation on, every
   * access token issued so far (refresh-token reuse, i.e. a leaked token).
   */
  async endSessions(userId: string): Promise<void> {
    await this.ds.transaction((m) => this.revokeSessionsIn(m, userId));
    this.principals.invalidate(userId);
  }

  /** Revokes every access token issued to the user so far (logout); its other refresh tokens stay valid. */
  async revokeAccessTokens(userId: string): Promise<void> {
    await this.users.increment({ id: userId }, 'tokenGeneration', 1);
    this.principals.invalidate(userId);
  }

  /**
   * Stamps `last_login_at`, leaving the row version alone: a login is not an edit, so an admin's form opened on this
   * user before it (If-Match with the version it showed) must still save.
   */
  async recordLogin(id: string): Promise<void> {
    // Plain SQL: TypeORM's update (repository or query builder) bumps the @VersionColumn on every write.
    await this.users.query('UPDATE users SET last_login_at = now() WHERE id = $1', [id]);
  }

  private async revokeSessionsIn(m: EntityManager, userId: string): Promise<void> {
    await this.refreshTokens.revokeAllOf(userId, m);
    await m.increment(User, { id: userId }, 'tokenGeneration', 1);
  }

  private async assertAnotherAdmin(m: EntityManager, u: User, what: 'delete' | 'disable' | 'demote'): Promise<void> {
    const admins = await m.count(User, { where: { role: Role.Admin, enabled: true } });
    if (admins <= 1) {
      throw new ConflictError(UsersErrorCode.LAST_ADMIN, `cannot ${what} "${u.username}": it is the last enabled admin`);
    }
  }

  private async findOrFail(m: EntityManager, id: string, forUpdate = false): Promise<User> {
    const u = await m.findOne(User, { where: { id }, ...(forUpdate ? { lock: { mode: 'pessimistic_write' as const } } : {}) });
    if (!u) throw new NotFoundError('user', id, UsersErrorCode.USER_NOT_FOUND);
    return u;
  }

  private getDummyHash(): Promise<string> {
    this.dummyHash ??= hashPassword(generatePassword());
    return this.dummyHash;
  }
}
