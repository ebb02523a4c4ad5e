import { MigrationInterface, QueryRunner } from 'typeorm';

export class AddSignedLoaders1796538868871 implements MigrationInterface {
  name = 'AddSignedLoaders1796538868871';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"signed_loader_files\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"platform\" character varying(8) NOT NULL, \"name\" character varying(64) NOT NULL, \"sha256\" character(64) NOT NULL, \"size_bytes\" integer NOT NULL, \"entry\" boolean NOT NULL DEFAULT false, \"version\" integer NOT NULL DEFAULT '1', \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"signed_loader_files_platform_name_key\" UNIQUE (\"platform\", \"name\"), CONSTRAINT \"signed_loader_files_platform_check\" CHECK (\"platform\" IN ('x64', 'arm64', 'ia32')), CONSTRAINT \"PK_bf89d3347af866e95ee0803a201\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE UNIQUE INDEX \"uq_signed_loader_files_entry\" ON \"signed_loader_files\"  (\"platform\") WHERE \"entry\"");
    await queryRunner.query("ALTER TABLE \"boot_sessions\" ADD \"secure_boot\" boolean NOT NULL DEFAULT false");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"boot_sessions\" DROP COLUMN \"secure_boot\"");
    await queryRunner.query("DROP INDEX \"public\".\"uq_signed_loader_files_entry\"");
    await queryRunner.query("DROP TABLE \"signed_loader_files\"");
  }
}
