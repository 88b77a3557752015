import { Inject, Injectable } from '@nestjs/common';
import { SQL_DATABASE } from '../storage/storage.tokens';
import type { SqlDatabase } from '../storage/sql';

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
  abstract insert(record: Omit<EnrollmentCodeRecord, 'usedAtMs'>): Promise<void>;
  /** The code with this SHA-256, or undefined. */
  abstract find(codeSha256: string): Promise<EnrollmentCodeRecord | undefined>;
  /**
   * Marks the code used by `natsPublicKey`, only if it is still unused and unexpired at `nowMs`.
   * Returns false when it is not (another enrollment got there first, or it expired meanwhile).
   */
  abstract claim(codeSha256: string, nowMs: number, natsPublicKey: string): Promise<boolean>;
  /** Undoes {@link claim} when the enrollment failed after claiming, so the code stays usable. */
  abstract release(codeSha256: string, natsPublicKey: string): Promise<void>;
  /** The ids of every agent enrolled so far (a used code), sorted. */
  abstract enrolledAgentIds(): Promise<string[]>;
}

interface Row {
  code_sha256: string;
  agent_id: string;
  created_at_ms: number;
  expires_at_ms: number;
  used_at_ms: number | null;
}

/** {@link EnrollmentRepository} on a {@link SqlDatabase} (SQLite or PostgreSQL). */
@Injectable()
export class SqlEnrollmentRepository extends EnrollmentRepository {
  constructor(@Inject(SQL_DATABASE) private readonly db: SqlDatabase) {
    super();
  }

  async insert(record: Omit<EnrollmentCodeRecord, 'usedAtMs'>): Promise<void> {
    await this.db.run('INSERT INTO enrollment_codes (code_sha256, agent_id, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?)', [record.codeSha256, record.agentId, record.createdAtMs, record.expiresAtMs]);
  }

  async find(codeSha256: string): Promise<EnrollmentCodeRecord | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM enrollment_codes WHERE code_sha256 = ?', [codeSha256]);
    return row && { codeSha256: row.code_sha256, agentId: row.agent_id, createdAtMs: row.created_at_ms, expiresAtMs: row.expires_at_ms, usedAtMs: row.used_at_ms };
  }

  async claim(codeSha256: string, nowMs: number, natsPublicKey: string): Promise<boolean> {
    // One conditional UPDATE: of two enrollments racing for a code, exactly one changes the row.
    const result = await this.db.run('UPDATE enrollment_codes SET used_at_ms = ?, used_by_nats_key = ? WHERE code_sha256 = ? AND used_at_ms IS NULL AND expires_at_ms > ?', [nowMs, natsPublicKey, codeSha256, nowMs]);
    return result.changes === 1;
  }

  async release(codeSha256: string, natsPublicKey: string): Promise<void> {
    await this.db.run('UPDATE enrollment_codes SET used_at_ms = NULL, used_by_nats_key = NULL WHERE code_sha256 = ? AND used_by_nats_key = ?', [codeSha256, natsPublicKey]);
  }

  async enrolledAgentIds(): Promise<string[]> {
    return (await this.db.all<{ agent_id: string }>('SELECT DISTINCT agent_id FROM enrollment_codes WHERE used_at_ms IS NOT NULL ORDER BY agent_id')).map((r) => r.agent_id);
  }
}
