import { Inject, Injectable } from '@nestjs/common';
import { NatsConnectionState } from '../common/nats-state';
import { SQL_DATABASE } from '../storage/storage.tokens';
import type { SqlDatabase } from '../storage/sql';

/** What `GET /healthz` reports. */
export interface Health {
  status: 'ok' | 'degraded';
  nats: 'connected' | 'reconnecting' | 'closed';
  database: 'ok' | 'failed';
}

/** Checks the coordinator's dependencies. */
@Injectable()
export class HealthService {
  constructor(
    @Inject(NatsConnectionState) private readonly natsState: NatsConnectionState,
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
  ) {}

  /** NATS connection state and a trivial database query. */
  async check(): Promise<Health> {
    const nats = this.natsState.status;
    let database: Health['database'] = 'ok';
    try {
      await this.db.get('SELECT 1 AS one');
    } catch {
      database = 'failed';
    }
    return { status: nats === 'connected' && database === 'ok' ? 'ok' : 'degraded', nats, database };
  }
}
