import { Global, Module } from '@nestjs/common';
import { OPEN_BOOT_SESSIONS } from '../../iscsi';
import { CatalogModule } from '../catalog.module';
import { BootSessionsService } from './boot-sessions.service';

/**
 * Hands the iSCSI module the open boot session of each client (its per-boot CHAP nonce) without iSCSI reading
 * `boot_sessions` or importing the catalogue, which depends on it: a global alias of BootSessionsService.
 */
@Global()
@Module({
  imports: [CatalogModule],
  providers: [{ provide: OPEN_BOOT_SESSIONS, useExisting: BootSessionsService }],
  exports: [OPEN_BOOT_SESSIONS],
})
export class OpenBootSessionsModule {}
