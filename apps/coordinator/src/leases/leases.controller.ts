import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { cancelSweepRequestSchema, type SweepCancellationView } from '@benchfarm/contract';
import { parseRequest } from '../common/parse-request';
import { errorResponse, ref } from '../openapi/schemas';
import { LeaseService } from './lease.service';

/** `POST /sweeps/:id/cancel`: cancellation that reaches running jobs. */
@ApiTags('sweeps')
@Controller('sweeps')
export class LeasesController {
  constructor(@Inject(LeaseService) private readonly leases: LeaseService) {}

  /** Cancels a sweep's open jobs. */
  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a sweep: queued jobs are removed from the job stream, running jobs stop at their next lease renewal' })
  @ApiParam({ name: 'id', type: 'string' })
  @ApiBody({ required: false, schema: ref('CancelSweep') })
  @ApiResponse({ status: 200, schema: ref('SweepCancellation') })
  @errorResponse(400, 'A bad body (invalid_argument, field reason).')
  @errorResponse(404, 'No such sweep (sweep_not_found).')
  @errorResponse(409, 'Nothing left to cancel (already_finished).')
  cancel(@Param('id') id: string, @Body() body: unknown): Promise<SweepCancellationView> {
    const { reason } = parseRequest(cancelSweepRequestSchema, body ?? {});
    return this.leases.cancelSweep(id, reason ?? 'cancelled by request');
  }
}
