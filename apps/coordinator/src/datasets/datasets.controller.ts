import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post, Put, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import { errorResponse, ref } from '../openapi/schemas';
import { DatasetsService, type DatasetRemovalView, type DatasetView, type FileProgressView, type UploadView } from './datasets.service';

/** REST routes of datasets (`/v1/datasets`); each delegates to {@link DatasetsService}. */
@ApiTags('datasets')
@Controller('v1/datasets')
export class DatasetsController {
  constructor(@Inject(DatasetsService) private readonly datasets: DatasetsService) {}

  /** `POST /v1/datasets/uploads`. */
  @Post('uploads')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Open a resumable dataset upload from its manifest',
    description:
      'Checks the manifest (names, digests, sizes against the limits, preprocess, inline labels) and answers which files (by SHA-256) the coordinator still needs: content another dataset already stored is not sent again. The same manifest again returns the same open upload (a client that lost its upload id resumes), or, when a dataset with this content exists, that dataset (state complete, reused true) without any upload. Nothing is stored when the manifest is refused.',
  })
  @ApiBody({ schema: ref('DatasetManifest') })
  @ApiResponse({ status: 201, schema: ref('DatasetUpload') })
  @errorResponse(400, 'Bad manifest (invalid_dataset, the field or file named): no images, duplicate or unsafe names, bad digests, bad preprocess, labels not COCO or naming images or categories the dataset lacks; the name is taken by other content.')
  @errorResponse(413, 'Over a size limit (dataset_too_large): an image, the labels, the whole dataset or the image count.')
  @errorResponse(503, 'The object store is unavailable (messaging_unavailable).')
  createUpload(@Body() body: unknown): Promise<UploadView> {
    return this.datasets.createUpload(body);
  }

  /** `GET /v1/datasets/uploads/:id`. */
  @Get('uploads/:id')
  @ApiOperation({ summary: 'An open upload: the files still missing and the bytes already received of each (to resume)' })
  @ApiParam({ name: 'id', type: 'string' })
  @ApiResponse({ status: 200, schema: ref('DatasetUpload') })
  @errorResponse(404, 'No open upload with this id: completed, refused or expired (dataset_not_found).')
  getUpload(@Param('id') id: string): Promise<UploadView> {
    return this.datasets.getUpload(id);
  }

  /** `DELETE /v1/datasets/uploads/:id`. */
  @Delete('uploads/:id')
  @ApiOperation({ summary: 'Abandon an open upload: its staged bytes are removed' })
  @ApiParam({ name: 'id', type: 'string' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { uploadId: { type: 'string' }, aborted: { type: 'boolean' } } } })
  @errorResponse(404, 'No open upload with this id (dataset_not_found).')
  abortUpload(@Param('id') id: string): Promise<{ uploadId: string; aborted: true }> {
    return this.datasets.abortUpload(id);
  }

  /** `PUT /v1/datasets/uploads/:id/files/:sha256`: raw bytes. */
  @Put('uploads/:id/files/:sha256')
  @ApiOperation({
    summary: "Send a file's bytes (whole, or a chunk with Content-Range)",
    description:
      'The body is the raw bytes (application/octet-stream). Without Content-Range the file starts again from byte 0; with "Content-Range: bytes <start>-<end>/<size>" the chunk must start where the coordinator\'s copy ends (GET the upload for receivedBytes). Once every byte is there the file is verified: its SHA-256, and a JPEG decode (images) or COCO JSON (labels). A file that fails drops the whole upload (400 invalid_dataset naming the file).',
  })
  @ApiConsumes('application/octet-stream')
  @ApiParam({ name: 'id', type: 'string' })
  @ApiParam({ name: 'sha256', type: 'string', description: 'The file as declared in the manifest.' })
  @ApiHeader({ name: 'content-range', required: false, description: 'bytes <start>-<end>/<size>' })
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 200, schema: ref('DatasetFileProgress') })
  @errorResponse(400, 'A digest mismatch, a corrupt JPEG, bad labels or more bytes than declared (invalid_dataset; the upload is discarded); a bad Content-Range or content type (invalid_argument).')
  @errorResponse(404, 'No open upload with this id (dataset_not_found).')
  @errorResponse(409, 'The chunk does not start where the coordinator\'s copy ends, or another request is writing this file (resume_mismatch).')
  putFile(@Param('id') id: string, @Param('sha256') sha256: string, @Headers('content-range') range: string | undefined, @Headers('content-type') type: string | undefined, @Req() req: Request): Promise<FileProgressView> {
    // JSON and form bodies were consumed by the body parsers already; bytes must come untouched.
    if (type !== undefined && !/^application\/octet-stream\b/i.test(type)) {
      return Promise.reject(new DomainError(DomainErrorCode.InvalidArgument, `content-type: send the file's bytes as application/octet-stream, not ${type}`, { field: 'content-type' }));
    }
    return this.datasets.putFile(id, sha256, range, req);
  }

  /** `POST /v1/datasets/uploads/:id/complete`. */
  @Post('uploads/:id/complete')
  @HttpCode(200)
  @ApiOperation({ summary: 'Finish an upload: checks every file and the labels against the decoded images, stores the files in the object store, then writes the dataset (complete or absent)' })
  @ApiParam({ name: 'id', type: 'string' })
  @ApiResponse({ status: 200, schema: ref('DatasetUpload') })
  @errorResponse(400, 'Files still missing (invalid_dataset, field files; the upload stays open), or labels that do not fit the images, or the name was taken meanwhile (invalid_dataset; the upload is discarded).')
  @errorResponse(404, 'No open upload with this id (dataset_not_found).')
  @errorResponse(503, 'The object store is unavailable (messaging_unavailable); nothing was kept, the upload stays open to retry.')
  complete(@Param('id') id: string): Promise<UploadView> {
    return this.datasets.complete(id);
  }

  /** `GET /v1/datasets`. */
  @Get()
  @ApiOperation({ summary: 'List datasets, newest first (without image lists)' })
  @ApiResponse({ status: 200, schema: { type: 'array', items: ref('Dataset') } })
  list(): Promise<DatasetView[]> {
    return this.datasets.list();
  }

  /** `GET /v1/datasets/:idOrName`. */
  @Get(':idOrName')
  @ApiOperation({ summary: 'A dataset with its images; by id, a unique id prefix of at least 8 hex digits, or name' })
  @ApiParam({ name: 'idOrName', type: 'string' })
  @ApiResponse({ status: 200, schema: ref('Dataset') })
  @errorResponse(404, 'No such dataset, or an ambiguous prefix (dataset_not_found).')
  show(@Param('idOrName') idOrName: string): Promise<DatasetView> {
    return this.datasets.show(idOrName);
  }

  /** `DELETE /v1/datasets/:idOrName`. */
  @Delete(':idOrName')
  @ApiOperation({ summary: 'Remove a dataset; its objects are deleted unless another dataset, an open upload or a sweep uses them' })
  @ApiParam({ name: 'idOrName', type: 'string' })
  @ApiResponse({ status: 200, schema: ref('DatasetRemoval') })
  @errorResponse(404, 'No such dataset (dataset_not_found).')
  remove(@Param('idOrName') idOrName: string): Promise<DatasetRemovalView> {
    return this.datasets.remove(idOrName);
  }
}
