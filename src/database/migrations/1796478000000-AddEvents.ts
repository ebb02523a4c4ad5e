import { MigrationInterface, QueryRunner } from 'typeorm';

/** The live-event stream's resume window (`events`, bigserial ids = SSE ids), pruned by time and count. */
export class AddEvents1796478000000 implements MigrationInterface {
  name = 'AddEvents1796478000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"events\" (\"id\" BIGSERIAL NOT NULL, \"type\" character varying(64) NOT NULL, \"at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"node\" character varying(128) NOT NULL, \"min_role\" character varying(16) NOT NULL DEFAULT 'viewer', \"body\" jsonb NOT NULL, CONSTRAINT \"PK_40731c7151fe4be3116e45ddf73\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"idx_events_at\" ON \"events\"  (\"at\") ");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"public\".\"idx_events_at\"");
    await queryRunner.query("DROP TABLE \"events\"");
  }
}
