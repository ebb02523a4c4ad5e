import { MigrationInterface, QueryRunner } from 'typeorm';

export class AddBootSessionFirmware1796527132943 implements MigrationInterface {
  name = 'AddBootSessionFirmware1796527132943';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD \"firmware\" character varying(10)");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD CONSTRAINT \"boot_sessions_firmware_check\" CHECK (\"firmware\" IN ('bios-pxe', 'uefi-pxe', 'uefi-http'))");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP CONSTRAINT \"boot_sessions_firmware_check\"");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP COLUMN \"firmware\"");
  }
}
