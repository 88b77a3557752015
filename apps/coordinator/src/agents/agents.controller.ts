import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { errorResponse, ref } from '../openapi/schemas';
import { AgentsService, type AgentView } from './agents.service';

/** REST routes of the agent registry. */
@ApiTags('agents')
@Controller('agents')
export class AgentsController {
  constructor(@Inject(AgentsService) private readonly agents: AgentsService) {}

  /** `GET /agents`. */
  @Get()
  @ApiOperation({ summary: 'Registered agents, read from the registry; stale when the last heartbeat is too old' })
  @ApiResponse({ status: 200, schema: { type: 'array', items: ref('AgentView') } })
  @errorResponse(503, 'NATS is unavailable (messaging_unavailable).')
  list(): Promise<AgentView[]> {
    return this.agents.list();
  }
}
