import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { errorResponse, ref } from '../openapi/schemas';
import { EnrollmentService, type EnrollmentCodeView, type EnrollmentView } from './enrollment.service';

/** REST routes of agent enrollment. */
@ApiTags('enrollment')
@Controller('v1')
export class EnrollmentController {
  constructor(@Inject(EnrollmentService) private readonly enrollment: EnrollmentService) {}

  /** `POST /v1/enrollments` (admin, behind the API token). */
  @Post('enrollments')
  @HttpCode(201)
  @ApiOperation({ summary: 'Issue a one-time enrollment code for an agent id (shown once; stored only as its SHA-256)' })
  @ApiBody({ schema: ref('CreateEnrollmentCode') })
  @ApiResponse({ status: 201, schema: ref('EnrollmentCode') })
  @errorResponse(400, 'Bad agentId or ttlSeconds (invalid_argument, field named).')
  @errorResponse(501, 'No NATS account signing key configured (enrollment_disabled).')
  createCode(@Body() body: unknown): Promise<EnrollmentCodeView> {
    return this.enrollment.createCode(body);
  }

  /** `POST /v1/enroll` (open: the code authenticates the request). */
  @Post('enroll')
  @HttpCode(200)
  @ApiOperation({ summary: "Enroll an agent with its code: returns its NATS user JWT (for the agent's own nkey), the addresses to dial and, with a farm CA, its gRPC client certificate" })
  @ApiBody({ schema: ref('EnrollRequest') })
  @ApiResponse({ status: 200, schema: ref('Enrollment') })
  @errorResponse(400, 'Bad agentId, code, natsPublicKey or tlsPublicKeyPem (invalid_argument, field named); the code stays usable.')
  @errorResponse(401, 'Unknown or expired code, or a code issued for another agent id (enrollment_code_invalid).')
  @errorResponse(409, 'The code was already used (enrollment_code_used).')
  @errorResponse(501, 'No NATS account signing key configured (enrollment_disabled).')
  enroll(@Body() body: unknown): Promise<EnrollmentView> {
    return this.enrollment.enroll(body);
  }
}
