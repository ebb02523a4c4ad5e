import { MigrationInterface, QueryRunner } from 'typeorm';

export class AddSharedSecrets1796540569148 implements MigrationInterface {
  name = 'AddSharedSecrets1796540569148';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"shared_secrets\" (\"name\" character varying(40) NOT NULL, \"value\" text NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"shared_secrets_pkey\" PRIMARY KEY (\"name\"))");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP TABLE \"shared_secrets\"");
  }
}
