import { Injectable, OnModuleInit } from '@nestjs/common';
import { loadOrCreateSecret } from '@common/secrets';
import { AppConfig } from '@config/config.loader';
import { checkBootToken, signBootToken } from './boot-token';

/**
 * The key of the boot-route tokens (generated once, kept under the data directory like the JWT secret) and the two
 * operations on it. DHCP signs the script URL it hands out; the boot routes check what comes back.
 */
@Injectable()
export class BootTokens implements OnModuleInit {
  private key?: Buffer;

  constructor(private readonly config: AppConfig) {}

  async onModuleInit(): Promise<void> {
    this.key = Buffer.from(await loadOrCreateSecret(this.config.dataDir, 'boot-token-key'));
  }

  /** A token for `mac`, bound to `ip` (full mode: the address DLS gives it) when given. */
  sign(mac: string, ip: string | null): string {
    return signBootToken(this.requireKey(), mac, ip, Date.now() / 1000);
  }

  /** Why `token` is refused for `mac` (and `ip`), or null when it is good. */
  problem(token: unknown, mac: string, ip: string | null): string | null {
    return checkBootToken(this.requireKey(), token, mac, ip, Date.now() / 1000);
  }

  private requireKey(): Buffer {
    if (!this.key) throw new Error('boot token key not loaded yet');
    return this.key;
  }
}
