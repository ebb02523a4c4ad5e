import { MigrationInterface, QueryRunner } from 'typeorm';

const UPDATED_AT_TABLES = ['images', 'clients', 'network_ranges', 'users'];

export class CreateInitialSchema1795837215983 implements MigrationInterface {
  name = 'CreateInitialSchema1795837215983';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"');
    await queryRunner.query("CREATE TABLE \"audit_log\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"user_id\" uuid, \"username\" character varying(64), \"action\" character varying(64) NOT NULL, \"entity_type\" character varying(64) NOT NULL, \"entity_id\" character varying(64), \"details\" jsonb, \"remote_address\" inet, \"status_code\" integer, CONSTRAINT \"PK_07fefa57f7f5ab8fc3f52b3ed0b\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"idx_audit_log_entity\" ON \"audit_log\"  (\"entity_type\", \"entity_id\") ");
    await queryRunner.query("CREATE INDEX \"idx_audit_log_at\" ON \"audit_log\"  (\"at\") ");
    await queryRunner.query("CREATE TABLE \"users\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"username\" character varying(64) NOT NULL, \"password_hash\" text NOT NULL, \"role\" character varying(16) NOT NULL, \"enabled\" boolean NOT NULL DEFAULT true, \"last_login_at\" TIMESTAMP WITH TIME ZONE, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"users_username_key\" UNIQUE (\"username\"), CONSTRAINT \"users_role_check\" CHECK (\"role\" IN ('admin', 'operator', 'viewer')), CONSTRAINT \"PK_a3ffb1c0c8416b9fc6f907b7433\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE TABLE \"refresh_tokens\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"user_id\" uuid NOT NULL, \"token_hash\" character(64) NOT NULL, \"expires_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"revoked_at\" TIMESTAMP WITH TIME ZONE, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_7d8bee0204106019488c4c50ffa\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"idx_refresh_tokens_user_id\" ON \"refresh_tokens\"  (\"user_id\") ");
    await queryRunner.query("CREATE TABLE \"images\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"name\" character varying(255) NOT NULL, \"description\" text, \"os_type\" character varying(100), \"size_bytes\" bigint NOT NULL, \"format\" character varying(20) NOT NULL, \"path\" text NOT NULL, \"zfs_dataset\" character varying(255), \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"created_by\" uuid, \"tags\" jsonb, \"is_template\" boolean NOT NULL DEFAULT false, \"parent_image_id\" uuid, CONSTRAINT \"images_name_key\" UNIQUE (\"name\"), CONSTRAINT \"images_format_check\" CHECK (\"format\" IN ('raw', 'qcow2', 'vhdx')), CONSTRAINT \"images_size_bytes_check\" CHECK (\"size_bytes\" > 0), CONSTRAINT \"PK_1fe148074c6a1a91b63cb9ee3c9\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"idx_images_is_template\" ON \"images\"  (\"is_template\") ");
    await queryRunner.query("CREATE INDEX \"idx_images_os_type\" ON \"images\"  (\"os_type\") ");
    await queryRunner.query("CREATE INDEX \"idx_images_name\" ON \"images\"  (\"name\") ");
    await queryRunner.query("CREATE TABLE \"clients\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"mac_address\" character varying(17) NOT NULL, \"hostname\" character varying(255) NOT NULL, \"ip_address\" inet, \"assigned_image_id\" uuid, \"boot_mode\" character varying(10) NOT NULL DEFAULT 'pxe', \"cpu_cores\" integer NOT NULL DEFAULT '2', \"memory_mb\" integer NOT NULL DEFAULT '2048', \"network_config\" jsonb, \"custom_boot_params\" text, \"enabled\" boolean NOT NULL DEFAULT true, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"last_boot_at\" TIMESTAMP WITH TIME ZONE, \"boot_count\" bigint NOT NULL DEFAULT '0', CONSTRAINT \"clients_mac_address_key\" UNIQUE (\"mac_address\"), CONSTRAINT \"clients_memory_mb_check\" CHECK (\"memory_mb\" > 0), CONSTRAINT \"clients_cpu_cores_check\" CHECK (\"cpu_cores\" > 0), CONSTRAINT \"clients_boot_mode_check\" CHECK (\"boot_mode\" IN ('pxe', 'uefi', 'legacy')), CONSTRAINT \"PK_f1ab7cf3a5714dbc6bb4e1c28a4\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"idx_clients_enabled\" ON \"clients\"  (\"enabled\") ");
    await queryRunner.query("CREATE INDEX \"idx_clients_mac_address\" ON \"clients\"  (\"mac_address\") ");
    await queryRunner.query("CREATE TABLE \"boot_sessions\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"client_id\" uuid NOT NULL, \"image_id\" uuid NOT NULL, \"started_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"ended_at\" TIMESTAMP WITH TIME ZONE, \"status\" character varying(10) NOT NULL DEFAULT 'starting', \"boot_time_seconds\" integer, \"error_message\" text, \"client_ip\" inet, \"boot_server_ip\" inet, CONSTRAINT \"boot_sessions_boot_time_seconds_check\" CHECK (\"boot_time_seconds\" >= 0), CONSTRAINT \"boot_sessions_status_check\" CHECK (\"status\" IN ('starting', 'booting', 'running', 'shutdown', 'error')), CONSTRAINT \"PK_28988ec60bf6f88176a57a464c4\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"idx_boot_sessions_status\" ON \"boot_sessions\"  (\"status\") ");
    await queryRunner.query("CREATE INDEX \"idx_boot_sessions_started_at\" ON \"boot_sessions\"  (\"started_at\") ");
    await queryRunner.query("CREATE INDEX \"idx_boot_sessions_client_id\" ON \"boot_sessions\"  (\"client_id\") ");
    await queryRunner.query("CREATE TABLE \"network_ranges\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"name\" character varying(100) NOT NULL, \"cidr\" cidr NOT NULL, \"gateway\" inet, \"dns_servers\" inet array NOT NULL DEFAULT '{}', \"dhcp_mode\" character varying(10) NOT NULL DEFAULT 'full', \"pool_start\" inet, \"pool_end\" inet, \"lease_seconds\" integer NOT NULL DEFAULT '3600', \"next_server\" inet, \"interface\" character varying(15), \"unknown_client_policy\" character varying(10) NOT NULL DEFAULT 'ignore', \"enabled\" boolean NOT NULL DEFAULT true, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"network_ranges_name_key\" UNIQUE (\"name\"), CONSTRAINT \"network_ranges_pool_check\" CHECK ((\"pool_start\" IS NULL AND \"pool_end\" IS NULL) OR (\"pool_start\" <<= \"cidr\" AND \"pool_end\" <<= \"cidr\" AND \"pool_start\" <= \"pool_end\")), CONSTRAINT \"network_ranges_lease_seconds_check\" CHECK (\"lease_seconds\" > 0), CONSTRAINT \"network_ranges_unknown_policy_check\" CHECK (\"unknown_client_policy\" IN ('ignore', 'register')), CONSTRAINT \"network_ranges_dhcp_mode_check\" CHECK (\"dhcp_mode\" IN ('full', 'proxy', 'off')), CONSTRAINT \"network_ranges_cidr_excl\" EXCLUDE USING gist (\"cidr\" inet_ops WITH &&), CONSTRAINT \"PK_eda0f4d112fe218fce8c9191aa1\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE TABLE \"image_snapshots\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"image_id\" uuid NOT NULL, \"name\" character varying(255) NOT NULL, \"description\" text, \"storage_ref\" text, \"size_bytes\" bigint, \"is_published\" boolean NOT NULL DEFAULT false, \"published_at\" TIMESTAMP WITH TIME ZONE, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"created_by\" uuid, CONSTRAINT \"image_snapshots_image_id_name_key\" UNIQUE (\"image_id\", \"name\"), CONSTRAINT \"PK_8a11d3226649b0358a3f9c92186\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"uq_image_snapshots_published\" ON \"image_snapshots\"  (\"image_id\") WHERE \"is_published\"");
    await queryRunner.query("CREATE INDEX \"idx_image_snapshots_image_id\" ON \"image_snapshots\"  (\"image_id\") ");
    await queryRunner.query("ALTER TABLE \"refresh_tokens\" ADD CONSTRAINT \"refresh_tokens_user_id_fkey\" FOREIGN KEY (\"user_id\") REFERENCES \"users\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"images\" ADD CONSTRAINT \"images_parent_image_id_fkey\" FOREIGN KEY (\"parent_image_id\") REFERENCES \"images\"(\"id\") ON DELETE SET NULL ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"clients\" ADD CONSTRAINT \"clients_assigned_image_id_fkey\" FOREIGN KEY (\"assigned_image_id\") REFERENCES \"images\"(\"id\") ON DELETE SET NULL ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD CONSTRAINT \"boot_sessions_client_id_fkey\" FOREIGN KEY (\"client_id\") REFERENCES \"clients\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD CONSTRAINT \"boot_sessions_image_id_fkey\" FOREIGN KEY (\"image_id\") REFERENCES \"images\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"image_snapshots\" ADD CONSTRAINT \"image_snapshots_image_id_fkey\" FOREIGN KEY (\"image_id\") REFERENCES \"images\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    // Automatic updated_at maintenance, as in the original schema design (also for rows changed outside TypeORM).
    await queryRunner.query(`CREATE OR REPLACE FUNCTION update_updated_at_column() RETURNS TRIGGER AS $$
BEGIN
  NEW.updated_at = NOW();
  RETURN NEW;
END;
$$ LANGUAGE plpgsql`);
    for (const table of UPDATED_AT_TABLES) {
      await queryRunner.query(
        `CREATE TRIGGER update_${table}_updated_at BEFORE UPDATE ON "${table}" FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of UPDATED_AT_TABLES) {
      await queryRunner.query(`DROP TRIGGER IF EXISTS update_${table}_updated_at ON "${table}"`);
    }
    await queryRunner.query('DROP FUNCTION IF EXISTS update_updated_at_column()');
    await queryRunner.query("ALTER TABLE \"image_snapshots\" DROP CONSTRAINT \"image_snapshots_image_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP CONSTRAINT \"boot_sessions_image_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP CONSTRAINT \"boot_sessions_client_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"clients\" DROP CONSTRAINT \"clients_assigned_image_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP CONSTRAINT \"images_parent_image_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"refresh_tokens\" DROP CONSTRAINT \"refresh_tokens_user_id_fkey\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_image_snapshots_image_id\"");
    await queryRunner.query("DROP INDEX \"public\".\"uq_image_snapshots_published\"");
    await queryRunner.query("DROP TABLE \"image_snapshots\"");
    await queryRunner.query("DROP TABLE \"network_ranges\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_boot_sessions_client_id\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_boot_sessions_started_at\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_boot_sessions_status\"");
    await queryRunner.query("DROP TABLE \"boot_sessions\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_clients_mac_address\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_clients_enabled\"");
    await queryRunner.query("DROP TABLE \"clients\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_images_name\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_images_os_type\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_images_is_template\"");
    await queryRunner.query("DROP TABLE \"images\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_refresh_tokens_user_id\"");
    await queryRunner.query("DROP TABLE \"refresh_tokens\"");
    await queryRunner.query("DROP TABLE \"users\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_audit_log_at\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_audit_log_entity\"");
    await queryRunner.query("DROP TABLE \"audit_log\"");
  }
}
