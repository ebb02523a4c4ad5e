import { Controller, Get, HttpCode, HttpStatus, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { Response } from 'express';
import { Public } from '@common/auth/auth.decorators';
import { api } from '@common/api';
import { LivenessDto, ReadinessDto } from './dto/health.dto';
import { ReadinessRegistry } from './readiness.registry';

const READY_EXAMPLE = {
  status: 'ok',
  info: { database: { status: 'up' }, storage: { status: 'up', driver: 'dir' }, tgtd: { status: 'up', pid: 4711 } },
  error: {},
  details: { database: { status: 'up' }, storage: { status: 'up', driver: 'dir' }, tgtd: { status: 'up', pid: 4711 } },
};

@ApiTags('health')
@Controller(api('health'))
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly registry: ReadinessRegistry,
  ) {}

  /** Process is up (no dependencies checked). */
  @Public()
  @Get('live')
  @HttpCode(200)
  @ApiOperation({ summary: 'Is the process up (nothing else checked)' })
  @ApiOkResponse({ type: LivenessDto })
  live(): LivenessDto {
    return { status: 'ok' };
  }

  /**
   * Ready to serve: the database and every part the configuration enables (storage, tgtd, … — whatever modules
   * registered in the {@link ReadinessRegistry}), each with its state. 503 with the same shape when any part is down.
   */
  @Public()
  @Get('ready')
  @ApiOperation({ summary: 'Is DLS ready: the database and every enabled part (storage, tgtd, DHCP, …), each with its state' })
  @ApiOkResponse({ type: ReadinessDto, schema: { example: READY_EXAMPLE } })
  @ApiServiceUnavailableResponse({ type: ReadinessDto, description: 'a part is down; `error` and `details` name it (the same shape as the 200)' })
  async ready(@Res({ passthrough: true }) res: Response): Promise<HealthCheckResult> {
    try {
      return await this.health.check([() => this.db.pingCheck('database', { timeout: 1500 }), ...this.registry.indicatorFunctions()]);
    } catch (e) {
      // terminus answers a down part with a 503 exception whose response is the full result; keep its shape.
      if (!(e instanceof ServiceUnavailableException)) throw e;
      res.status(HttpStatus.SERVICE_UNAVAILABLE);
      return e.getResponse() as HealthCheckResult;
    }
  }
}
