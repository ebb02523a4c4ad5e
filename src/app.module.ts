import { ClusterModule } from './modules/cluster';
import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ScheduleModule } from '@nestjs/schedule';
import { JwtAuthGuard } from './common/auth/jwt-auth.guard';
import { StartupRollback } from './common/lifecycle/startup-rollback';
import { DomainErrorFilter } from './common/errors/domain-error.filter';
import { DlsLoggingModule } from './common/logging/logging.module';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/config.loader';
import { DlsConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { AuditModule } from './modules/audit/audit.module';
import { AuthModule } from './modules/auth/auth.module';
import { EventsModule } from './modules/events/events.module';
import { JWT_ISSUER, JWT_SECRET, JwtSecretModule } from './modules/auth/jwt-secret.module';
import { CatalogModule } from './modules/catalog/catalog.module';
import { OpenBootSessionsModule } from './modules/catalog/boot-sessions/open-boot-sessions.module';
import { HealthModule } from './modules/health/health.module';
import { MetricsModule } from './modules/metrics/metrics.module';
import { NetworkModule } from './modules/network/network.module';
import { PxeBootModule } from './modules/pxe-boot/pxe-boot.module';
import { RoomModule } from './modules/room/room.module';
import { UsersModule } from './modules/users/users.module';
import { WakeModule } from './modules/wake/wake.module';

@Module({})
class StartupRollbackModule {}

/** Root module: feature modules plus the global guard, pipe and filter. */
@Module({})
export class AppModule {
  /**
   * `rollback` collects what must be stopped if creating the app fails (see {@link StartupRollback}); `quietLogs`: no
   * log output at all (tests that pass `logger: false`).
   */
  static forRoot(config?: AppConfig, rollback = new StartupRollback(), opts: { quietLogs?: boolean } = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        DlsConfigModule.forRoot(config),
        { module: StartupRollbackModule, global: true, providers: [{ provide: StartupRollback, useValue: rollback }], exports: [StartupRollback] },
        DlsLoggingModule.forRoot(config?.logLevel ?? 'log', { quiet: opts.quietLogs }),
        MetricsModule,
        DatabaseModule,
        JwtModule.registerAsync({
          global: true,
          imports: [JwtSecretModule],
          inject: [JWT_SECRET, AppConfig],
          useFactory: (secret: string, c: AppConfig) => ({
            secret,
            signOptions: { expiresIn: c.auth.accessTtl, issuer: JWT_ISSUER },
            verifyOptions: { issuer: JWT_ISSUER },
          }),
        }),
        HealthModule,
        EventsModule,
        AuditModule,
        UsersModule,
        AuthModule,
        CatalogModule,
        OpenBootSessionsModule,
        NetworkModule,
        ClusterModule,
        PxeBootModule,
        RoomModule,
        ScheduleModule.forRoot(),
        WakeModule,
      ],
      providers: [
        { provide: APP_GUARD, useClass: JwtAuthGuard },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: DomainErrorFilter },
      ],
    };
  }
}
