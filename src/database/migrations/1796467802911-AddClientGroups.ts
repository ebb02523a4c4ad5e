import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Client groups (`client_groups`): shared boot settings (image, pinned version, disk policy, boot loader, boot
 * params) a client inherits where it sets none, and a range's default group for MACs DHCP registers there.
 * `clients.group_id` is RESTRICT: a group with members is not deleted.
 */
export class AddClientGroups1796467802911 implements MigrationInterface {
  name = 'AddClientGroups1796467802911';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"client_groups\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"name\" character varying(100) NOT NULL, \"description\" text, \"image_id\" uuid, \"pinned_snapshot_id\" uuid, \"disk_policy\" character varying(12), \"boot_loader\" character varying(32), \"boot_params\" text, \"default_for_range_id\" uuid, \"version\" integer NOT NULL DEFAULT '1', \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"client_groups_default_for_range_id_key\" UNIQUE (\"default_for_range_id\"), CONSTRAINT \"client_groups_name_key\" UNIQUE (\"name\"), CONSTRAINT \"client_groups_boot_loader_check\" CHECK (\"boot_loader\" IN ('undionly.kpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi')), CONSTRAINT \"client_groups_disk_policy_check\" CHECK (\"disk_policy\" IN ('reset', 'persistent')), CONSTRAINT \"PK_abbe316cb34838a5bd3b2dc9e10\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("ALTER TABLE \"clients\" ADD \"group_id\" uuid");
    await queryRunner.query("CREATE INDEX \"idx_clients_group_id\" ON \"clients\"  (\"group_id\") ");
    await queryRunner.query("ALTER TABLE \"client_groups\" ADD CONSTRAINT \"client_groups_image_id_fkey\" FOREIGN KEY (\"image_id\") REFERENCES \"images\"(\"id\") ON DELETE SET NULL ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"client_groups\" ADD CONSTRAINT \"client_groups_pinned_snapshot_id_fkey\" FOREIGN KEY (\"pinned_snapshot_id\") REFERENCES \"image_snapshots\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"client_groups\" ADD CONSTRAINT \"client_groups_default_for_range_id_fkey\" FOREIGN KEY (\"default_for_range_id\") REFERENCES \"network_ranges\"(\"id\") ON DELETE SET NULL ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"clients\" ADD CONSTRAINT \"clients_group_id_fkey\" FOREIGN KEY (\"group_id\") REFERENCES \"client_groups\"(\"id\") ON DELETE RESTRICT ON UPDATE NO ACTION");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"clients\" DROP CONSTRAINT \"clients_group_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"client_groups\" DROP CONSTRAINT \"client_groups_default_for_range_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"client_groups\" DROP CONSTRAINT \"client_groups_pinned_snapshot_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"client_groups\" DROP CONSTRAINT \"client_groups_image_id_fkey\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_clients_group_id\"");
    await queryRunner.query("ALTER TABLE \"clients\" DROP COLUMN \"group_id\"");
    await queryRunner.query("DROP TABLE \"client_groups\"");
  }
}
