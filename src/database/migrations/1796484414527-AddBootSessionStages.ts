import { MigrationInterface, QueryRunner } from 'typeorm';

export class AddBootSessionStages1796484414527 implements MigrationInterface {
  name = 'AddBootSessionStages1796484414527';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD \"dhcp_at\" TIMESTAMP WITH TIME ZONE");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD \"loader_at\" TIMESTAMP WITH TIME ZONE");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD \"script_at\" TIMESTAMP WITH TIME ZONE");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD \"iscsi_login_at\" TIMESTAMP WITH TIME ZONE");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD \"running_at\" TIMESTAMP WITH TIME ZONE");
    await queryRunner.query("CREATE INDEX \"idx_boot_sessions_client_id_started_at\" ON \"boot_sessions\"  (\"client_id\", \"started_at\") ");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"public\".\"idx_boot_sessions_client_id_started_at\"");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP COLUMN \"running_at\"");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP COLUMN \"iscsi_login_at\"");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP COLUMN \"script_at\"");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP COLUMN \"loader_at\"");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP COLUMN \"dhcp_at\"");
  }
}
