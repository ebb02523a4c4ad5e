import { MigrationInterface, QueryRunner } from 'typeorm';

/** The row version (ETag / If-Match) on wake_schedules, as AddRowVersions gave the other editable tables. */
export class AddWakeScheduleVersion1796478564016 implements MigrationInterface {
  name = 'AddWakeScheduleVersion1796478564016';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"wake_schedules\" ADD \"version\" integer NOT NULL DEFAULT '1'");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"wake_schedules\" DROP COLUMN \"version\"");
  }
}
