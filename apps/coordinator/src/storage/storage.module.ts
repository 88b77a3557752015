import { Module } from '@nestjs/common';
import { LeaseRepository, SqlLeaseRepository } from './lease.repository';
import { ResultRepository, SqlResultRepository } from './result.repository';
import { SqlSweepRepository, SweepRepository } from './sweep.repository';

/** Repositories on the open store (`SQL_DATABASE`: SQLite or PostgreSQL). */
@Module({
  providers: [
    { provide: SweepRepository, useClass: SqlSweepRepository },
    { provide: ResultRepository, useClass: SqlResultRepository },
    { provide: LeaseRepository, useClass: SqlLeaseRepository },
  ],
  exports: [SweepRepository, ResultRepository, LeaseRepository],
})
export class StorageModule {}
