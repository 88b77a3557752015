import { AGENT_BUCKET, JOB_STREAM, MODEL_BUCKET, agentConsumerName, assertAgentId } from '../topology';

/** Publish and subscribe allow-lists of one NATS user; anything not listed is denied. */
export interface NatsUserPermissions {
  readonly pub: { readonly allow: readonly string[] };
  readonly sub: { readonly allow: readonly string[] };
}

/**
 * The inbox prefix an enrolled agent uses for every request reply (nats.js `inboxPrefix`). Its
 * user may subscribe only below it, so it cannot read another agent's replies (which carry that
 * agent's jobs) nor the shared `_INBOX.>`.
 */
export function agentInboxPrefix(agentId: string): string {
  return `_INBOX_${assertAgentId(agentId)}`;
}

/**
 * The complete permission set of an enrolled agent's NATS user: what `startAgent` needs with
 * open-only access (farm-open.ts), found by running an agent against nats-server 2.9 with each
 * entry removed in turn and reading the server's permission-violation log. Everything not
 * listed is denied: creating or deleting streams and consumers, publishing jobs, pulling from
 * or acking another agent's consumer, reading the job stream's messages, writing another
 * agent's registry entry, subscribing outside the agent's own inbox prefix.
 *
 * Thrown errors: InvalidAgentIdError when `agentId` is not a safe subject token.
 */
export function agentPermissions(agentId: string): NatsUserPermissions {
  const consumer = agentConsumerName(agentId);
  const modelStream = `OBJ_${MODEL_BUCKET}`;
  return {
    pub: {
      allow: [
        // jetstreamManager() checks that JetStream is there.
        '$JS.API.INFO',
        // The agent's own durable pull consumer: look it up, pull one job, ack/nak/working/term.
        `$JS.API.CONSUMER.INFO.${JOB_STREAM}.${consumer}`,
        `$JS.API.CONSUMER.MSG.NEXT.${JOB_STREAM}.${consumer}`,
        `$JS.ACK.${JOB_STREAM}.${consumer}.>`,
        // Its own registry entry only (heartbeat put, delete on shutdown); the bucket must exist.
        `$KV.${AGENT_BUCKET}.${agentId}`,
        `$JS.API.STREAM.INFO.KV_${AGENT_BUCKET}`,
        // The model bucket, read-only: open it, read an object's meta message, read its chunks
        // through an ordered push consumer filtered to one object's chunk subject (the server
        // checks the filter in the subject against the request), and answer flow control.
        `$JS.API.STREAM.INFO.${modelStream}`,
        `$JS.API.STREAM.MSG.GET.${modelStream}`,
        `$JS.API.CONSUMER.CREATE.${modelStream}.*.$O.${MODEL_BUCKET}.C.*`,
        `$JS.FC.${modelStream}.>`,
      ],
    },
    sub: { allow: [`${agentInboxPrefix(agentId)}.>`] },
  };
}
