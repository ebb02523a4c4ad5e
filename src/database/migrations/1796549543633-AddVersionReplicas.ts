import { MigrationInterface, QueryRunner } from 'typeorm';

export class AddVersionReplicas1796549543633 implements MigrationInterface {
  name = 'AddVersionReplicas1796549543633';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"version_replicas\" (\"version_id\" uuid NOT NULL, \"node_id\" uuid NOT NULL, \"state\" character varying(10) NOT NULL, \"source_node_id\" uuid, \"method\" character varying(20) NOT NULL, \"base_version_id\" uuid, \"bytes_copied\" bigint NOT NULL DEFAULT '0', \"sha256\" character varying(64), \"error\" text, \"attempts\" integer NOT NULL DEFAULT '0', \"started_at\" TIMESTAMP WITH TIME ZONE, \"finished_at\" TIMESTAMP WITH TIME ZONE, \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"version_replicas_state_check\" CHECK (\"state\" IN ('copying', 'verifying', 'verified', 'failed')), CONSTRAINT \"version_replicas_pkey\" PRIMARY KEY (\"version_id\", \"node_id\"))");
    await queryRunner.query("CREATE INDEX \"idx_version_replicas_node_id\" ON \"version_replicas\"  (\"node_id\") ");
    await queryRunner.query("ALTER TABLE \"image_snapshots\" ADD \"sha256\" character varying(64)");
    await queryRunner.query("ALTER TABLE \"version_replicas\" ADD CONSTRAINT \"version_replicas_version_id_fkey\" FOREIGN KEY (\"version_id\") REFERENCES \"image_snapshots\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
    await queryRunner.query("ALTER TABLE \"version_replicas\" ADD CONSTRAINT \"version_replicas_node_id_fkey\" FOREIGN KEY (\"node_id\") REFERENCES \"nodes\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"version_replicas\" DROP CONSTRAINT \"version_replicas_node_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"version_replicas\" DROP CONSTRAINT \"version_replicas_version_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"image_snapshots\" DROP COLUMN \"sha256\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_version_replicas_node_id\"");
    await queryRunner.query("DROP TABLE \"version_replicas\"");
  }
}
