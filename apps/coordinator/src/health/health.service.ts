import { Inject, Injectable } from '@nestjs/common';
import { NatsConnectionState } from '../common/nats-state';
import { SQLITE_DATABASE } from '../storage/storage.tokens';
import type { SqliteDatabase } from '../storage/database';

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
    @Inject(SQLITE_DATABASE) private readonly db: SqliteDatabase,
  ) {}

  /** NATS connection state and a trivial database query. */
  check(): Health {
    const nats = this.natsState.status;
    let database: Health['database'] = 'ok';
    try {
      this.db.prepare('SELECT 1').get();
    } catch {
      database = 'failed';
    }
    return { status: nats === 'connected' && database === 'ok' ? 'ok' : 'degraded', nats, database };
  }
}
