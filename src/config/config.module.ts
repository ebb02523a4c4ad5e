import { Global, Module } from '@nestjs/common';
import { AppConfig, loadConfig } from './config.loader';

/** Provides the validated `AppConfig` everywhere. `DlsConfigModule.forRoot(config)` lets tests inject their own. */
@Global()
@Module({})
export class DlsConfigModule {
  static forRoot(config?: AppConfig) {
    return {
      module: DlsConfigModule,
      providers: [{ provide: AppConfig, useFactory: () => config ?? loadConfig() }],
      exports: [AppConfig],
    };
  }
}
