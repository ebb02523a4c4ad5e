import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One client per reserved address (`clients.ip_address`, partial unique index where it is set). Two clients that
 * already share an address could never both get it from DHCP; the earliest registered keeps the reservation and the
 * others lose theirs (they get pool addresses), with a NOTICE naming each one.
 */
export class AddUniqueClientIpAddress1796463599857 implements MigrationInterface {
  name = 'AddUniqueClientIpAddress1796463599857';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT id, hostname, host(ip_address) AS ip FROM (
      SELECT id, hostname, ip_address, row_number() OVER (PARTITION BY ip_address ORDER BY created_at, id) AS n
      FROM clients WHERE ip_address IS NOT NULL
    ) d WHERE n > 1
  LOOP
    RAISE NOTICE 'client % (%) shared ip_address % with an earlier client; its reservation is cleared', r.hostname, r.id, r.ip;
    UPDATE clients SET ip_address = NULL WHERE id = r.id;
  END LOOP;
END $$`);
    await queryRunner.query('CREATE UNIQUE INDEX "uq_clients_ip_address" ON "clients"  ("ip_address") WHERE "ip_address" IS NOT NULL');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."uq_clients_ip_address"');
  }
}
