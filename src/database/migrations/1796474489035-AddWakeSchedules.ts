import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Wake schedules (`wake_schedules`, owned by the wake module): when a client group is woken, as a 5-field cron
 * expression in an IANA time zone, with the next run the runner claims (partial index on `next_run_at` of enabled
 * schedules) and the last run's counts. Deleting a group deletes its schedules.
 */
export class AddWakeSchedules1796474489035 implements MigrationInterface {
  name = 'AddWakeSchedules1796474489035';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"wake_schedules\" (\"id\" uuid NOT NULL DEFAULT uuid_generate_v4(), \"group_id\" uuid NOT NULL, \"cron\" character varying(100) NOT NULL, \"timezone\" character varying(64) NOT NULL, \"enabled\" boolean NOT NULL DEFAULT true, \"next_run_at\" TIMESTAMP WITH TIME ZONE, \"last_run_at\" TIMESTAMP WITH TIME ZONE, \"last_run_total\" integer, \"last_run_failed\" integer, \"created_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), \"updated_at\" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT \"PK_d1dfc3a2e0996861f449b319960\" PRIMARY KEY (\"id\"))");
    await queryRunner.query("CREATE INDEX \"idx_wake_schedules_next_run_at\" ON \"wake_schedules\"  (\"next_run_at\") WHERE \"enabled\"");
    await queryRunner.query("CREATE INDEX \"idx_wake_schedules_group_id\" ON \"wake_schedules\"  (\"group_id\") ");
    await queryRunner.query("ALTER TABLE \"wake_schedules\" ADD CONSTRAINT \"wake_schedules_group_id_fkey\" FOREIGN KEY (\"group_id\") REFERENCES \"client_groups\"(\"id\") ON DELETE CASCADE ON UPDATE NO ACTION");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"wake_schedules\" DROP CONSTRAINT \"wake_schedules_group_id_fkey\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_wake_schedules_group_id\"");
    await queryRunner.query("DROP INDEX \"public\".\"idx_wake_schedules_next_run_at\"");
    await queryRunner.query("DROP TABLE \"wake_schedules\"");
  }
}
