import { Controller, Get, HttpCode } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { Public } from '@common/auth/auth.decorators';
import { DomainError } from '@common/errors/domain-error';
import { api } from '@common/api';

@ApiTags('health')
@Controller(api('health'))
export class HealthController {
  constructor(private readonly ds: DataSource) {}

  /** Process is up (no dependencies checked). */
  @Public()
  @Get('live')
  @HttpCode(200)
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live() {
    return { status: 'ok' };
  }

  /** Ready to serve: the database answers. */
  @Public()
  @Get('ready')
  @ApiOkResponse({ schema: { example: { status: 'ok', database: 'up' } } })
  @ApiServiceUnavailableResponse({ description: 'database unreachable' })
  async ready() {
    try {
      await this.ds.query('SELECT 1');
    } catch {
      throw new DomainError('unavailable', 'DATABASE_DOWN', 'database unreachable');
    }
    return { status: 'ok', database: 'up' };
  }
}
