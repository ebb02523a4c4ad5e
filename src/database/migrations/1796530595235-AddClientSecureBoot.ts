import { MigrationInterface, QueryRunner } from 'typeorm';

export class AddClientSecureBoot1796530595235 implements MigrationInterface {
  name = 'AddClientSecureBoot1796530595235';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"clients\" ADD \"secure_boot\" boolean NOT NULL DEFAULT false");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"clients\" DROP COLUMN \"secure_boot\"");
  }
}
