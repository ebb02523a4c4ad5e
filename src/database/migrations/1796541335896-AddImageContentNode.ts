import { MigrationInterface, QueryRunner } from 'typeorm';

export class AddImageContentNode1796541335896 implements MigrationInterface {
  name = 'AddImageContentNode1796541335896';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"images\" ADD \"content_node_id\" uuid");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"images\" DROP COLUMN \"content_node_id\"");
  }
}
