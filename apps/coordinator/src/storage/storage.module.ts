import { Module } from '@nestjs/common';
import { LeaseRepository, SqliteLeaseRepository } from './lease.repository';
import { ResultRepository, SqliteResultRepository } from './result.repository';
import { SqliteSweepRepository, SweepRepository } from './sweep.repository';

/** Repositories on SQLite. */
@Module({
  providers: [
    { provide: SweepRepository, useClass: SqliteSweepRepository },
    { provide: ResultRepository, useClass: SqliteResultRepository },
    { provide: LeaseRepository, useClass: SqliteLeaseRepository },
  ],
  exports: [SweepRepository, ResultRepository, LeaseRepository],
})
export class StorageModule {}
