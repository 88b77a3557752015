import { Module } from '@nestjs/common';
import { ResultRepository, SqliteResultRepository } from './result.repository';
import { SqliteSweepRepository, SweepRepository } from './sweep.repository';

/** Repositories on SQLite. */
@Module({
  providers: [
    { provide: SweepRepository, useClass: SqliteSweepRepository },
    { provide: ResultRepository, useClass: SqliteResultRepository },
  ],
  exports: [SweepRepository, ResultRepository],
})
export class StorageModule {}
