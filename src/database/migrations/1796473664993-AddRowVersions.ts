import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Row versions (`version integer NOT NULL DEFAULT 1`, TypeORM @VersionColumn) on the editable tables — the ETag of
 * each record and what `If-Match` is checked against (`client_groups` has had one since AddClientGroups). Columns are
 * added, none renamed: the original tables keep their contract. A constant default makes each ADD COLUMN a catalog
 * change only (no table rewrite); existing rows start at version 1.
 */
export class AddRowVersions1796473664993 implements MigrationInterface {
  name = 'AddRowVersions1796473664993';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"users\" ADD \"version\" integer NOT NULL DEFAULT '1'");
    await queryRunner.query("ALTER TABLE \"images\" ADD \"version\" integer NOT NULL DEFAULT '1'");
    await queryRunner.query("ALTER TABLE \"clients\" ADD \"version\" integer NOT NULL DEFAULT '1'");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD \"version\" integer NOT NULL DEFAULT '1'");
    await queryRunner.query("ALTER TABLE \"network_ranges\" ADD \"version\" integer NOT NULL DEFAULT '1'");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"network_ranges\" DROP COLUMN \"version\"");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP COLUMN \"version\"");
    await queryRunner.query("ALTER TABLE \"clients\" DROP COLUMN \"version\"");
    await queryRunner.query("ALTER TABLE \"images\" DROP COLUMN \"version\"");
    await queryRunner.query("ALTER TABLE \"users\" DROP COLUMN \"version\"");
  }
}
