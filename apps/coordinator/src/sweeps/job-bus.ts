import type { JetStreamClient } from '@nats-io/jetstream';
import { jobSubject } from '@benchfarm/messaging';
import { BenchJob } from '@benchfarm/protocol';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';

/** Where jobs are published for agents. */
export abstract class JobBus {
  /** Publishes a job to its agent and waits for the server to store it; `duplicate` when it already had. */
  abstract publish(job: BenchJob): Promise<{ duplicate: boolean }>;
}

/** {@link JobBus} on the JetStream job stream: `bench.jobs.<agentId>`, `Nats-Msg-Id` = job id. */
export class JetStreamJobBus extends JobBus {
  constructor(private readonly js: JetStreamClient) {
    super();
  }

  async publish(job: BenchJob): Promise<{ duplicate: boolean }> {
    try {
      const ack = await this.js.publish(jobSubject(job.agentId), BenchJob.encode(job).finish(), { msgID: job.jobId });
      return { duplicate: ack.duplicate };
    } catch (err) {
      throw new DomainError(DomainErrorCode.MessagingUnavailable, `cannot publish job ${job.jobId} to agent ${job.agentId}: ${errorMessage(err)}`, { cause: err });
    }
  }
}
