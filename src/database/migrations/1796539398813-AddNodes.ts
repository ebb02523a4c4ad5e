import { MigrationInterface, QueryRunner } from 'typeorm';

export class AddNodes1796539398813 implements MigrationInterface {
  name = 'AddNodes1796539398813';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"nodes\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"name\" character varying(100) NOT NULL, \"instance\" character varying(64) NOT NULL, \"addresses\" text array NOT NULL DEFAULT '{}', \"http_port\" integer NOT NULL, \"capacity\" integer NOT NULL, \"state\" character varying(10) NOT NULL DEFAULT 'active', \"dls_version\" character varying(40) NOT NULL, \"started_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"heartbeat_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"nodes_name_key\" UNIQUE (\"name\"), CONSTRAINT \"nodes_state_check\" CHECK (\"state\" IN ('active', 'draining', 'stopped')), CONSTRAINT \"PK_682d6427523a0fa43d062ea03ee\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE TABLE \"range_owners\" (\"range_id\" uuid NOT NULL, \"node_id\" uuid NOT NULL, \"epoch\" bigint NOT NULL DEFAULT '1', \"acquired_at\" TIMESTAMP WITH TIME ZONE NOT NULL, \"expires_at\" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT \"range_owners_pkey\" PRIMARY KEY (\"range_id\"))");
    await queryRunner.query("CREATE INDEX \"idx_range_owners_node_id\" ON \"range_owners\"  (\"node_id\") ");
    await queryRunner.query("ALTER TABLE \"range_owners\" ADD CONSTRAINT \"range_owners_range_id_fkey\" FOREIGN KEY (\"range_id\") REFERENCES \"network_ranges\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"range_owners\" ADD CONSTRAINT \"range_owners_node_id_fkey\" FOREIGN KEY (\"node_id\") REFERENCES \"nodes\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"range_owners\" DROP CONSTRAINT \"range_owners_node_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"range_owners\" DROP CONSTRAINT \"range_owners_range_id_fkey\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_range_owners_node_id\"");
    await queryRunner.query("DROP TABLE \"range_owners\"");
    await queryRunner.query("DROP TABLE \"nodes\"");
  }
}
