import { Module } from '@nestjs/common';
import { AgentsController } from './agents.controller';
import { AgentsService } from './agents.service';

/** The agent registry: `GET /agents` and target matching for sweeps. */
@Module({ controllers: [AgentsController], providers: [AgentsService], exports: [AgentsService] })
export class AgentsModule {}
