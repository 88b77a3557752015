import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { DomainError, DomainErrorCode } from '../common/domain-error';
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
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { cancelledJobs: { type: 'integer' }, deletedMessages: { type: 'integer' } } } })
  @errorResponse(404, 'No such sweep (sweep_not_found).')
  @errorResponse(409, 'Nothing left to cancel (already_finished).')
  cancel(@Param('id') id: string, @Body() body: unknown): Promise<{ cancelledJobs: number; deletedMessages: number }> {
    const reason = (body as { reason?: unknown } | undefined)?.reason;
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500)) {
      throw new DomainError(DomainErrorCode.InvalidArgument, 'reason must be a string of at most 500 characters', { field: 'reason' });
    }
    return this.leases.cancelSweep(id, reason ?? 'cancelled by request');
  }
}
