import { Module } from '@nestjs/common';
import { loadOrCreateSecret } from '@common/secrets';
import { AppConfig } from '@config/config.loader';

/** Injection token of the access tokens' HMAC key (a string). */
export const JWT_SECRET = 'dls:jwt-secret';
/** `iss` of every access token; signing and verification both insist on it. */
export const JWT_ISSUER = 'dls';

/**
 * Resolves the access tokens' HMAC key once — the configured one, or a generated one kept in the data dir — so
 * signing (JwtModule, root module) and verification (JwtStrategy) cannot disagree about it.
 */
@Module({
  providers: [
    {
      provide: JWT_SECRET,
      inject: [AppConfig],
      useFactory: async (c: AppConfig) => c.auth.jwtSecret ?? (await loadOrCreateSecret(c.dataDir, 'jwt-secret')),
    },
  ],
  exports: [JWT_SECRET],
})
export class JwtSecretModule {}
