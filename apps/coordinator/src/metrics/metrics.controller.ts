import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { MetricsService } from './metrics.service';

/** `GET /metrics` for Prometheus. */
@ApiTags('observability')
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(MetricsService) private readonly metrics: MetricsService) {}

  /** Renders the coordinator's registry in the Prometheus text format. */
  @Get()
  @ApiOperation({ summary: 'Prometheus metrics (bounded labels: model, variant, device, provider, quantile, state, outcome)' })
  @ApiProduces('text/plain')
  @ApiResponse({ status: 200, schema: { type: 'string' } })
  async scrape(@Res() response: Response): Promise<void> {
    const { contentType, text } = await this.metrics.render();
    response.type(contentType).send(text);
  }
}
