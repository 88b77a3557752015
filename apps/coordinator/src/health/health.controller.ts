import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ref } from '../openapi/schemas';
import { HealthService } from './health.service';

/** `GET /healthz`. */
@ApiTags('observability')
@Controller('healthz')
export class HealthController {
  constructor(@Inject(HealthService) private readonly health: HealthService) {}

  /** 200 when NATS is connected and the database answers, else 503 with the same body. */
  @Get()
  @ApiOperation({ summary: 'Liveness and dependencies' })
  @ApiResponse({ status: 200, schema: ref('Health') })
  @ApiResponse({ status: 503, schema: ref('Health') })
  async check(@Res() response: Response): Promise<void> {
    const health = await this.health.check();
    response.status(health.status === 'ok' ? 200 : 503).json(health);
  }
}
