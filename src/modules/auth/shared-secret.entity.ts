import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * Secrets every DLS node on one database must agree on (today: the access tokens' HMAC key), kept in the database
 * when DLS runs on an external PostgreSQL (`DATABASE_URL`), so that a login at one node is valid at every node with no
 * setting to copy. With the embedded database (one node) they stay in the data dir. Whoever reads this table can
 * forge logins — as whoever holds the database can change every user anyway.
 */
@Entity('shared_secrets')
export class SharedSecret {
  @PrimaryColumn({ type: 'varchar', length: 40, primaryKeyConstraintName: 'shared_secrets_pkey' })
  name: string;

  @Column({ type: 'text' })
  value: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
