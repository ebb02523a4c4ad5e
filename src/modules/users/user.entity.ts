import { Check, Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';
import { Role } from '@common/auth/role';

/** An API user. `passwordHash` is argon2id and never leaves the service layer. */
@Entity('users')
@Unique('users_username_key', ['username'])
@Check('users_role_check', `"role" IN ('admin', 'operator', 'viewer')`)
export class User {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 64 })
  username: string;

  @Column({ name: 'password_hash', type: 'text' })
  passwordHash: string;

  @Column({ type: 'varchar', length: 16 })
  role: Role;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  /**
   * Access tokens carry the generation they were issued under and stop working once it moves on: bumped on logout, a
   * password change, disabling and refresh-token reuse, so those revoke every outstanding access token at once.
   */
  @Column({ name: 'token_generation', type: 'integer', default: 0 })
  tokenGeneration: number;

  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true })
  lastLoginAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
