import { MigrationInterface, QueryRunner } from 'typeorm';

export class IndexLeasesAndRefreshTokens1795839895125 implements MigrationInterface {
  name = 'IndexLeasesAndRefreshTokens1795839895125';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("ALTER TABLE \"dhcp_leases\" DROP CONSTRAINT \"dhcp_leases_range_mac_key\"");
    await queryRunner.query("CREATE UNIQUE INDEX \"uq_refresh_tokens_token_hash\" ON \"refresh_tokens\"  (\"token_hash\") ");
    await queryRunner.query("CREATE UNIQUE INDEX \"uq_dhcp_leases_range_mac\" ON \"dhcp_leases\"  (\"range_id\", \"mac\") WHERE \"state\" <> 'declined'");
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"public\".\"uq_dhcp_leases_range_mac\"");
    await queryRunner.query("DROP INDEX \"public\".\"uq_refresh_tokens_token_hash\"");
    await queryRunner.query("ALTER TABLE \"dhcp_leases\" ADD CONSTRAINT \"dhcp_leases_range_mac_key\" UNIQUE (\"range_id\", \"mac\")");
  }
}
