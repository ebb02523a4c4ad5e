import { MigrationInterface, QueryRunner } from 'typeorm';

export class AddClientDiskNode1796551031379 implements MigrationInterface {
  name = 'AddClientDiskNode1796551031379';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"client_disks\" ADD \"node_id\" uuid");
    await queryRunner.query("ALTER TABLE \"client_disks\" ADD CONSTRAINT \"client_disks_node_id_fkey\" FOREIGN KEY (\"node_id\") REFERENCES \"nodes\"(\"id\") ON DELETE SET NULL ON UPDATE NO ACTION");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"client_disks\" DROP CONSTRAINT \"client_disks_node_id_fkey\"");
    await queryRunner.query("ALTER TABLE \"client_disks\" DROP COLUMN \"node_id\"");
  }
}
