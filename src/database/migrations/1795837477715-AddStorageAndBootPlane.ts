import { MigrationInterface, QueryRunner } from 'typeorm';

export class AddStorageAndBootPlane1795837477715 implements MigrationInterface {
  name = 'AddStorageAndBootPlane1795837477715';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"client_disks\" (\"client_id\" uuid NOT NULL, \"image_id\" uuid NOT NULL, \"snapshot_id\" uuid NOT NULL, \"path\" text, \"state\" character varying(12) NOT NULL DEFAULT 'creating', \"is_maintenance\" boolean NOT NULL DEFAULT false, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"client_disks_state_check\" CHECK (\"state\" IN ('creating', 'ready', 'destroying')), CONSTRAINT \"PK_f1c4f4a85b8618da89fb716d080\" PRIMARY KEY (\"client_id\"))");
    await queryRunner.query("CREATE INDEX \"idx_client_disks_snapshot_id\" ON \"client_disks\"  (\"snapshot_id\") ");
    await queryRunner.query("CREATE TABLE \"iscsi_exports\" (\"client_id\" uuid NOT NULL, \"tid\" integer NOT NULL, \"target_iqn\" character varying(223) NOT NULL, \"initiator_iqn\" character varying(223) NOT NULL, \"backing_path\" text NOT NULL, \"chap_user\" character varying(64) NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"iscsi_exports_target_iqn_key\" UNIQUE (\"target_iqn\"), CONSTRAINT \"iscsi_exports_tid_key\" UNIQUE (\"tid\"), CONSTRAINT \"PK_32c2d3d103a87d5488a8dacba83\" PRIMARY KEY (\"client_id\"))");
    await queryRunner.query("CREATE TABLE \"dhcp_leases\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"range_id\" uuid NOT NULL, \"ip\" inet NOT NULL, \"mac\" character varying(17) NOT NULL, \"client_id\" uuid, \"state\" character varying(10) NOT NULL, \"expires_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"hostname\" character varying(255), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"dhcp_leases_range_mac_key\" UNIQUE (\"range_id\", \"mac\"), CONSTRAINT \"dhcp_leases_ip_key\" UNIQUE (\"ip\"), CONSTRAINT \"dhcp_leases_state_check\" CHECK (\"state\" IN ('offered', 'bound', 'declined', 'released')), CONSTRAINT \"PK_0850f615fd5c627132ae8558c6c\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"idx_dhcp_leases_expires_at\" ON \"dhcp_leases\"  (\"expires_at\") ");
    await queryRunner.query("ALTER TABLE \"images\" ADD \"default_disk_policy\" character varying(12) NOT NULL DEFAULT 'reset'");
    await queryRunner.query("ALTER TABLE \"images\" ADD \"content_status\" character varying(12) NOT NULL DEFAULT 'empty'");
    await queryRunner.query("ALTER TABLE \"images\" ADD \"content_progress\" real");
    await queryRunner.query("ALTER TABLE \"images\" ADD \"content_error\" text");
    await queryRunner.query("ALTER TABLE \"images\" ADD \"content_sha256\" character(64)");
    await queryRunner.query("ALTER TABLE \"images\" ADD \"maintenance_client_id\" uuid");
    await queryRunner.query("ALTER TABLE \"images\" ADD \"boot_kernel\" text");
    await queryRunner.query("ALTER TABLE \"images\" ADD \"boot_initrd\" text");
    await queryRunner.query("ALTER TABLE \"images\" ADD \"boot_cmdline\" text");
    await queryRunner.query("ALTER TABLE \"clients\" ADD \"pinned_snapshot_id\" uuid");
    await queryRunner.query("ALTER TABLE \"clients\" ADD \"disk_policy\" character varying(12)");
    await queryRunner.query("ALTER TABLE \"clients\" ADD \"boot_loader\" character varying(32)");
    await queryRunner.query("ALTER TABLE \"clients\" ADD \"pending\" boolean NOT NULL DEFAULT false");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD \"last_seen_at\" TIMESTAMP WITH TIME ZONE");
    await queryRunner.query("CREATE UNIQUE INDEX \"uq_boot_sessions_open_per_client\" ON \"boot_sessions\"  (\"client_id\") WHERE \"status\" IN ('starting', 'booting', 'running')");
    await queryRunner.query("ALTER TABLE \"images\" ADD CONSTRAINT \"images_content_status_check\" CHECK (\"content_status\" IN ('empty', 'importing', 'ready', 'failed'))");
    await queryRunner.query("ALTER TABLE \"images\" ADD CONSTRAINT \"images_default_disk_policy_check\" CHECK (\"default_disk_policy\" IN ('reset', 'persistent'))");
    await queryRunner.query("ALTER TABLE \"clients\" ADD CONSTRAINT \"clients_boot_loader_check\" CHECK (\"boot_loader\" IN ('undionly.kpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi'))");
    await queryRunner.query("ALTER TABLE \"clients\" ADD CONSTRAINT \"clients_disk_policy_check\" CHECK (\"disk_policy\" IN ('reset', 'persistent'))");
    await queryRunner.query("ALTER TABLE \"clients\" ADD CONSTRAINT \"clients_pinned_snapshot_id_fkey\" FOREIGN KEY (\"pinned_snapshot_id\") REFERENCES \"image_snapshots\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"client_disks\" ADD CONSTRAINT \"client_disks_client_id_fkey\" FOREIGN KEY (\"client_id\") REFERENCES \"clients\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"client_disks\" ADD CONSTRAINT \"client_disks_image_id_fkey\" FOREIGN KEY (\"image_id\") REFERENCES \"images\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"client_disks\" ADD CONSTRAINT \"client_disks_snapshot_id_fkey\" FOREIGN KEY (\"snapshot_id\") REFERENCES \"image_snapshots\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"iscsi_exports\" ADD CONSTRAINT \"iscsi_exports_client_id_fkey\" FOREIGN KEY (\"client_id\") REFERENCES \"clients\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"dhcp_leases\" ADD CONSTRAINT \"dhcp_leases_range_id_fkey\" FOREIGN KEY (\"range_id\") REFERENCES \"network_ranges\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"dhcp_leases\" ADD CONSTRAINT \"dhcp_leases_client_id_fkey\" FOREIGN KEY (\"client_id\") REFERENCES \"clients\"(\"id\") ON DELETE SET NULL ON UPDATE NO ACTION");
    for (const table of ['client_disks', 'iscsi_exports', 'dhcp_leases']) {
      await queryRunner.query(
        `CREATE TRIGGER update_${table}_updated_at BEFORE UPDATE ON "${table}" FOR EACH ROW EXECUTE FUNCTION update_updated_at_column()`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"dhcp_leases\" DROP CONSTRAINT \"dhcp_leases_client_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"dhcp_leases\" DROP CONSTRAINT \"dhcp_leases_range_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"iscsi_exports\" DROP CONSTRAINT \"iscsi_exports_client_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"client_disks\" DROP CONSTRAINT \"client_disks_snapshot_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"client_disks\" DROP CONSTRAINT \"client_disks_image_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"client_disks\" DROP CONSTRAINT \"client_disks_client_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"clients\" DROP CONSTRAINT \"clients_pinned_snapshot_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"clients\" DROP CONSTRAINT \"clients_disk_policy_check\"");
    await queryRunner.query("ALTER TABLE \"clients\" DROP CONSTRAINT \"clients_boot_loader_check\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP CONSTRAINT \"images_default_disk_policy_check\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP CONSTRAINT \"images_content_status_check\"");
    await queryRunner.query("DROP INDEX \"public\".\"uq_boot_sessions_open_per_client\"");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP COLUMN \"last_seen_at\"");
    await queryRunner.query("ALTER TABLE \"clients\" DROP COLUMN \"pending\"");
    await queryRunner.query("ALTER TABLE \"clients\" DROP COLUMN \"boot_loader\"");
    await queryRunner.query("ALTER TABLE \"clients\" DROP COLUMN \"disk_policy\"");
    await queryRunner.query("ALTER TABLE \"clients\" DROP COLUMN \"pinned_snapshot_id\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP COLUMN \"boot_cmdline\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP COLUMN \"boot_initrd\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP COLUMN \"boot_kernel\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP COLUMN \"maintenance_client_id\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP COLUMN \"content_sha256\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP COLUMN \"content_error\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP COLUMN \"content_progress\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP COLUMN \"content_status\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP COLUMN \"default_disk_policy\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_dhcp_leases_expires_at\"");
    await queryRunner.query("DROP TABLE \"dhcp_leases\"");
    await queryRunner.query("DROP TABLE \"iscsi_exports\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_client_disks_snapshot_id\"");
    await queryRunner.query("DROP TABLE \"client_disks\"");
  }
}
