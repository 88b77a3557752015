import { Inject, Injectable } from '@nestjs/common';
import type { SqliteDatabase } from '../storage/database';
import { SQLITE_DATABASE } from '../storage/storage.tokens';

/** One enrollment code as stored: never the code itself, only its SHA-256. */
export interface EnrollmentCodeRecord {
  readonly codeSha256: string;
  readonly agentId: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly usedAtMs: number | null;
}

/** Storage of enrollment codes. */
export abstract class EnrollmentRepository {
  /** Stores a new code. */
  abstract insert(record: Omit<EnrollmentCodeRecord, 'usedAtMs'>): void;
  /** The code with this SHA-256, or undefined. */
  abstract find(codeSha256: string): EnrollmentCodeRecord | undefined;
  /**
   * Marks the code used by `natsPublicKey`, only if it is still unused and unexpired at `nowMs`.
   * Returns false when it is not (another enrollment got there first, or it expired meanwhile).
   */
  abstract claim(codeSha256: string, nowMs: number, natsPublicKey: string): boolean;
  /** Undoes {@link claim} when the enrollment failed after claiming, so the code stays usable. */
  abstract release(codeSha256: string, natsPublicKey: string): void;
  /** The ids of every agent enrolled so far (a used code), sorted. */
  abstract enrolledAgentIds(): string[];
}

interface Row {
  code_sha256: string;
  agent_id: string;
  created_at_ms: number;
  expires_at_ms: number;
  used_at_ms: number | null;
}

/** {@link EnrollmentRepository} on the coordinator's SQLite file. */
@Injectable()
export class SqliteEnrollmentRepository extends EnrollmentRepository {
  constructor(@Inject(SQLITE_DATABASE) private readonly db: SqliteDatabase) {
    super();
  }

  insert(record: Omit<EnrollmentCodeRecord, 'usedAtMs'>): void {
    this.db
      .prepare('INSERT INTO enrollment_codes (code_sha256, agent_id, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?)')
      .run(record.codeSha256, record.agentId, record.createdAtMs, record.expiresAtMs);
  }

  find(codeSha256: string): EnrollmentCodeRecord | undefined {
    const row = this.db.prepare('SELECT * FROM enrollment_codes WHERE code_sha256 = ?').get(codeSha256) as Row | undefined;
    return row && { codeSha256: row.code_sha256, agentId: row.agent_id, createdAtMs: row.created_at_ms, expiresAtMs: row.expires_at_ms, usedAtMs: row.used_at_ms };
  }

  claim(codeSha256: string, nowMs: number, natsPublicKey: string): boolean {
    const result = this.db
      .prepare('UPDATE enrollment_codes SET used_at_ms = ?, used_by_nats_key = ? WHERE code_sha256 = ? AND used_at_ms IS NULL AND expires_at_ms > ?')
      .run(nowMs, natsPublicKey, codeSha256, nowMs);
    return result.changes === 1;
  }

  release(codeSha256: string, natsPublicKey: string): void {
    this.db.prepare('UPDATE enrollment_codes SET used_at_ms = NULL, used_by_nats_key = NULL WHERE code_sha256 = ? AND used_by_nats_key = ?').run(codeSha256, natsPublicKey);
  }

  enrolledAgentIds(): string[] {
    return (this.db.prepare('SELECT DISTINCT agent_id FROM enrollment_codes WHERE used_at_ms IS NOT NULL ORDER BY agent_id').all() as Array<{ agent_id: string }>).map((r) => r.agent_id);
  }
}
