import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BootSession } from './boot-session.entity';
import { BootSessionsController } from './boot-sessions.controller';
import { BootSessionsService } from './boot-sessions.service';

/** Boot sessions (`/api/v1/boot-sessions`). Exports BootSessionsService (open/transition/findOpenForClient). */
@Module({
  imports: [TypeOrmModule.forFeature([BootSession])],
  controllers: [BootSessionsController],
  providers: [BootSessionsService],
  exports: [BootSessionsService],
})
export class BootSessionsModule {}
