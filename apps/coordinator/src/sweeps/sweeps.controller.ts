import { Body, Controller, Get, HttpCode, Inject, Param, Post, UploadedFile, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import { ApiBody, ApiConsumes, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { errorResponse, ref } from '../openapi/schemas';
import { ResultsService } from '../results/results.service';
import { SweepsService } from './sweeps.service';
import type { SweepListView, SweepView } from './sweep.view';

/** The part of multer's file object the controller reads. */
interface UploadedModelFile {
  path: string;
  originalname: string;
  size: number;
}

/** REST routes of sweeps; each delegates to a service. */
@ApiTags('sweeps')
@Controller('sweeps')
export class SweepsController {
  constructor(
    @Inject(SweepsService) private readonly sweeps: SweepsService,
    @Inject(ResultsService) private readonly results: ResultsService,
  ) {}

  /** `POST /sweeps`: multipart with the model file, or JSON with `modelPath`. */
  @Post()
  @HttpCode(201)
  @UseInterceptors(FileInterceptor('model'))
  @ApiOperation({
    summary: 'Create a sweep',
    description:
      'Checks the request, the model (ONNX, fixable input shapes, loads in onnxruntime), the datasets and the bring-your-own variants, stores the model by SHA-256 and answers at once with the sweep in state deriving. The derivation step then derives each variant (progress in the view\'s derivation), stores it, creates one job per variant x matching agent, publishes the jobs and moves the sweep to running; a variant that cannot be derived fails the sweep (error), and cancelling it stops the derivation. Send the model as multipart field "model", or JSON { modelPath } for a file on the coordinator. Nothing is stored when the request is refused.',
  })
  @ApiConsumes('multipart/form-data', 'application/json')
  @ApiBody({ schema: ref('CreateSweepMultipart'), description: 'multipart/form-data: CreateSweepMultipart; application/json: CreateSweepJson' })
  @ApiResponse({ status: 201, description: 'The sweep was created in state deriving; follow it with GET /sweeps/{id}.', schema: ref('SweepView') })
  @errorResponse(400, 'Bad input: invalid_argument, unknown_variant, invalid_shapes, invalid_model (the field is named).')
  @errorResponse(413, 'The model file is too large (model_too_large).')
  @errorResponse(422, 'model_load_failed (onnxruntime refused the model), or no_matching_agent.')
  @errorResponse(503, 'NATS is unavailable (messaging_unavailable).')
  create(@UploadedFile() file: UploadedModelFile | undefined, @Body() body: unknown): Promise<SweepView> {
    return this.sweeps.create(file ? { kind: 'upload', path: file.path, originalName: file.originalname, sizeBytes: file.size } : { kind: 'none' }, body);
  }

  /** `GET /sweeps`. */
  @Get()
  @ApiOperation({ summary: 'List sweeps, newest first' })
  @ApiResponse({ status: 200, schema: { type: 'array', items: ref('SweepListItem') } })
  list(): Promise<SweepListView[]> {
    return this.sweeps.list();
  }

  /** `GET /sweeps/:id`. */
  @Get(':id')
  @ApiOperation({ summary: 'A sweep with its variants, jobs, live progress and results' })
  @ApiParam({ name: 'id', type: 'string' })
  @ApiResponse({ status: 200, schema: ref('SweepView') })
  @errorResponse(404, 'No such sweep (sweep_not_found).')
  get(@Param('id') id: string): Promise<SweepView> {
    return this.sweeps.get(id);
  }

  /** `GET /sweeps/:id/jobs/:jobId/samples`. */
  @Get(':id/jobs/:jobId/samples')
  @ApiOperation({ summary: "The raw latency samples of a job's result" })
  @ApiParam({ name: 'id', type: 'string' })
  @ApiParam({ name: 'jobId', type: 'string' })
  @ApiResponse({ status: 200, schema: ref('Samples') })
  @errorResponse(404, 'No such job in this sweep (job_not_found), or no result yet (result_not_found).')
  samples(@Param('id') id: string, @Param('jobId') jobId: string): Promise<{ latencyMs: number[] }> {
    return this.results.samples(id, jobId);
  }
}
