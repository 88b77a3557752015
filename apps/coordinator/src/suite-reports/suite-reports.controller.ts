import { Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { errorResponse, ref } from '../openapi/schemas';
import { SuiteReportsService, type SuiteReportsView } from './suite-reports.service';

/** REST route of the suite reports; delegates to the service. */
@ApiTags('sweeps')
@Controller('sweeps')
export class SuiteReportsController {
  constructor(@Inject(SuiteReportsService) private readonly reports: SuiteReportsService) {}

  /** `GET /sweeps/:id/suite-reports`. */
  @Get(':id/suite-reports')
  @ApiOperation({ summary: "What each job's scenario measured beyond its summary: bootstrap CIs, CV, stability, offline levels, server runs and peak QPS, cold start, interleaved comparison ratios with CIs, operator profiles" })
  @ApiResponse({ status: 200, schema: ref('SuiteReports') })
  @errorResponse(404, 'Unknown sweep (sweep_not_found).')
  forSweep(@Param('id') id: string): Promise<SuiteReportsView> {
    return this.reports.forSweep(id);
  }
}
