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

/** Thrown when a JetStream domain is not a safe subject token; names the problem. */
export class InvalidJsDomainError extends Error {
  override name = 'InvalidJsDomainError';
}

const JS_DOMAIN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Checks that `domain` can stand as one token of a NATS subject (`$JS.<domain>.API.>`): 1-64
 * characters of A-Z a-z 0-9 _ - (no `.`, `*`, `>` or white space, which would widen or break
 * the permission). Returns it unchanged.
 *
 * Thrown errors: InvalidJsDomainError saying what is wrong with it.
 */
export function assertJsDomain(domain: string): string {
  if (typeof domain !== 'string' || !JS_DOMAIN_PATTERN.test(domain)) {
    throw new InvalidJsDomainError(`invalid JetStream domain ${JSON.stringify(domain)}: a domain is 1-64 characters of A-Z a-z 0-9 _ - (one subject token)`);
  }
  return domain;
}

/**
 * The complete permission set of an enrolled agent's NATS user: what `startAgent` needs with
 * open-only access (farm-open.ts), found by running an agent against nats-server 2.9 with each
 * entry removed in turn and reading the server's permission-violation log. Everything not
 * listed is denied: creating or deleting streams and consumers, publishing jobs, pulling from
 * or acking another agent's consumer, reading the job stream's messages, writing another
 * agent's registry entry, subscribing outside the agent's own inbox prefix.
 *
 * With `jsDomain` (the hub's JetStream domain, `BENCHFARM_NATS_JS_DOMAIN`: an agent behind a leaf
 * node reaches the hub's JetStream only under it), every JetStream API entry is granted under
 * `$JS.<domain>.API.` as well as under `$JS.API.`. Found against nats-server 2.9.10 (see
 * apps/cli/src/faults/leaf-auth.int-spec.ts): behind a leaf, the leaf checks the agent's
 * request as sent (`$JS.<domain>.API.`) and the plain entry is not used; on a hub server of
 * that domain the server maps `$JS.<domain>.API.>` to `$JS.API.>` and checks the MAPPED subject
 * ("Publish Violation ... $JS.API.INFO" with the domain entries alone), so an agent enrolled
 * with the domain that dials the hub directly needs the plain entries too. Both name the same
 * consumer and streams: the pair grants nothing more than either. Acks
 * (`$JS.ACK.`) answer subjects the server chose and stay as they are; the agent's
 * registry put is the one stream publish nats.js prefixes (see the comment at it).
 *
 * Thrown errors: InvalidAgentIdError when `agentId` is not a safe subject token;
 * InvalidJsDomainError when `jsDomain` is not one.
 */
export function agentPermissions(agentId: string, options: { jsDomain?: string | undefined } = {}): NatsUserPermissions {
  const consumer = agentConsumerName(agentId);
  const modelStream = `OBJ_${MODEL_BUCKET}`;
  const prefixes = options.jsDomain === undefined ? ['$JS.API'] : ['$JS.API', `$JS.${assertJsDomain(options.jsDomain)}.API`];
  const api = (rest: string): string[] => prefixes.map((prefix) => `${prefix}.${rest}`);
  return {
    pub: {
      allow: [
        // jetstreamManager() checks that JetStream is there.
        ...api('INFO'),
        // The agent's own durable pull consumer: look it up, pull one job, ack/nak/working/term.
        ...api(`CONSUMER.INFO.${JOB_STREAM}.${consumer}`),
        ...api(`CONSUMER.MSG.NEXT.${JOB_STREAM}.${consumer}`),
        `$JS.ACK.${JOB_STREAM}.${consumer}.>`,
        // Its own registry entry only (heartbeat put, delete on shutdown); the bucket must exist.
        // Under a domain nats.js puts through the API prefix (`$JS.<domain>.API.$KV.<bucket>.<key>`),
        // which the hub maps to the plain `$KV.` subject (checked there when dialling it directly).
        `$KV.${AGENT_BUCKET}.${agentId}`,
        ...(options.jsDomain === undefined ? [] : [`$JS.${options.jsDomain}.API.$KV.${AGENT_BUCKET}.${agentId}`]),
        ...api(`STREAM.INFO.KV_${AGENT_BUCKET}`),
        // The model bucket, read-only: open it, read an object's meta message and its chunks
        // with message gets (fetchModel reads without a consumer: direct gets, the leader's
        // message get where a replica has nothing).
        ...api(`STREAM.INFO.${modelStream}`),
        ...api(`STREAM.MSG.GET.${modelStream}`),
        ...api(`DIRECT.GET.${modelStream}`),
      ],
    },
    sub: { allow: [`${agentInboxPrefix(agentId)}.>`] },
  };
}
