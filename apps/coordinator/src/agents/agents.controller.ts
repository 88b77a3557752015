import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ref } from '../openapi/schemas';
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
  @ApiResponse({ status: 503, description: 'NATS is unavailable (messaging_unavailable).', schema: ref('Error') })
  list(): Promise<AgentView[]> {
    return this.agents.list();
  }
}
