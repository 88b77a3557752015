import { describe, expect, expectTypeOf, it } from 'vitest';
import type * as contract from '@benchfarm/contract';
import { restComponentSchemas } from '@benchfarm/contract';
import type { AgentView } from '../agents/agents.service';
import type { DatasetRemovalView, DatasetView, FileProgressView, UploadView } from '../datasets/datasets.service';
import type { SweepListView, SweepView } from '../sweeps/sweep.view';
import { ERROR_CODES, OPENAPI_SCHEMAS } from './schemas';
import type { HttpErrorBody } from '../common/http-error.filter';
import type { EnrollmentCodeView, EnrollmentView } from '../enrollment/enrollment.service';
import type { Health } from '../health/health.service';
import type { SuiteReportsView } from '../suite-reports/suite-reports.service';

describe('the answers of the REST contract', () => {
  it('are typed so that whatever the services return meets the contract (tsc checks these lines)', () => {
    expectTypeOf<SweepView>().toExtend<contract.SweepView>();
    expectTypeOf<SweepListView>().toExtend<contract.SweepListItem>();
    expectTypeOf<AgentView>().toExtend<contract.AgentView>();
    expectTypeOf<DatasetView>().toExtend<contract.DatasetView>();
    expectTypeOf<UploadView>().toExtend<contract.DatasetUploadView>();
    expectTypeOf<FileProgressView>().toExtend<contract.DatasetFileProgressView>();
    expectTypeOf<DatasetRemovalView>().toExtend<contract.DatasetRemovalView>();
    expectTypeOf<HttpErrorBody>().toExtend<contract.ErrorBody>();
    expectTypeOf<SuiteReportsView>().toExtend<contract.SuiteReportsView>();
    expectTypeOf<Health>().toExtend<contract.HealthView>();
    expectTypeOf<EnrollmentCodeView>().toExtend<contract.EnrollmentCodeView>();
    expectTypeOf<EnrollmentView>().toExtend<contract.EnrollmentView>();
  });

  it('are documented by the schemas generated from the contract, not by hand', () => {
    const generated = restComponentSchemas();
    for (const [name, schema] of Object.entries(generated)) {
      if (name === 'Error') continue;
      expect(OPENAPI_SCHEMAS[name as keyof typeof OPENAPI_SCHEMAS], name).toEqual(schema);
    }
    expect(OPENAPI_SCHEMAS.Error).toEqual({ ...generated.Error, properties: { ...(generated.Error.properties as object), code: { ...(generated.Error.properties as { code: object }).code, enum: ERROR_CODES } } });
  });
});
