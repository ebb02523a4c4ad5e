import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for list search (`q`, a case-insensitive prefix) and the default client sort, so 10,000 clients stay fast:
 * `lower(hostname)` and `mac_address` with text_pattern_ops (prefix LIKE whatever the database collation),
 * `(hostname, id)` for the default page order, `lower(images.name)` for the image-name search and
 * `clients.assigned_image_id` (the imageId filter, and clients found by image name).
 */
export class AddListIndexes1796468400000 implements MigrationInterface {
  name = 'AddListIndexes1796468400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX "idx_clients_lower_hostname_pattern" ON "clients" (lower("hostname") text_pattern_ops)');
    await queryRunner.query('CREATE INDEX "idx_clients_mac_address_pattern" ON "clients" ("mac_address" text_pattern_ops)');
    await queryRunner.query('CREATE INDEX "idx_clients_hostname_id" ON "clients" ("hostname", "id")');
    await queryRunner.query('CREATE INDEX "idx_images_lower_name_pattern" ON "images" (lower("name") text_pattern_ops)');
    await queryRunner.query('CREATE INDEX "idx_clients_assigned_image_id" ON "clients" ("assigned_image_id") ');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."idx_clients_assigned_image_id"');
    await queryRunner.query('DROP INDEX "public"."idx_images_lower_name_pattern"');
    await queryRunner.query('DROP INDEX "public"."idx_clients_hostname_id"');
    await queryRunner.query('DROP INDEX "public"."idx_clients_mac_address_pattern"');
    await queryRunner.query('DROP INDEX "public"."idx_clients_lower_hostname_pattern"');
  }
}
