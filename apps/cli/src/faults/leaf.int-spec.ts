import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { FARM_STREAMS, JOB_STREAM, findNatsServer, freePort, startNatsServer, type NatsServerHandle } from '@benchfarm/messaging';
import { startNatsCluster, type NatsClusterHandle } from '@benchfarm/testing';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { CoordinatorClient } from '../client';
import { repoRoot } from '../processes';
import { createDerived, waitForSweep, QUICK_SWEEP } from '../testing/farm.fixture';
import { startAgentProcess, startCoordinatorProcess, waitFor, type TestProcess } from './harness';
import { readSweepLedger } from './ledger';

// Edge sites: agents that reach the farm only through a NATS leaf node. The hub is
// a 3-server JetStream cluster (domain "hub") running the coordinator with 3 replicas; one edge
// leaf node runs no JetStream (deploy/nats/leaf/edge.conf), another runs its own JetStream under
// domain "edge" (deploy/nats/leaf/edge-jetstream.conf). Agents on either set
// BENCHFARM_NATS_JS_DOMAIN=hub. Each edge agent gets a job and returns its result.

const leafConfig = (name: string, hubLeafPorts: number[], jsDomain?: string): string =>
  [
    `server_name: ${name}`,
    ...(jsDomain ? [`jetstream { domain: ${jsDomain} }`] : []),
    'leafnodes {',
    `  remotes: [ { urls: [${hubLeafPorts.map((p) => `"nats-leaf://127.0.0.1:${p}"`).join(', ')}] } ]`,
    '}',
    '',
  ].join('\n');

describe('edge sites through NATS leaf nodes (deploy/nats)', () => {
  let dir: string;
  let hub: NatsClusterHandle;
  let edge: NatsServerHandle;
  let edgeJs: NatsServerHandle;
  let coordinator: TestProcess;
  let client: CoordinatorClient;
  const agents: TestProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-leaf-'));
    const leafPorts = [await freePort(), await freePort(), await freePort()];
    hub = await startNatsCluster({ dir: join(dir, 'hub'), jsDomain: 'hub', extraConfig: ({ index }) => `leafnodes { listen: 127.0.0.1:${leafPorts[index]} }` });
    writeFileSync(join(dir, 'edge.conf'), leafConfig('edge-1', leafPorts));
    writeFileSync(join(dir, 'edge-js.conf'), leafConfig('edge-js-1', leafPorts, 'edge'));
    edge = await startNatsServer({ jetstream: false, args: ['-c', join(dir, 'edge.conf')] });
    edgeJs = await startNatsServer({ storeDir: join(dir, 'edge-js-store'), args: ['-c', join(dir, 'edge-js.conf')] });
    coordinator = await startCoordinatorProcess({ natsUrl: hub.url, dir, grpcPort: await freePort(), httpPort: 0, env: { BENCHFARM_NATS_REPLICAS: '3' } });
    client = new CoordinatorClient(String(coordinator.ready.httpUrl));
  }, 120_000);

  afterAll(async () => {
    for (const a of agents) await a.stop(3_000);
    await coordinator?.stop();
    await edge?.stop();
    await edgeJs?.stop();
    await hub?.stop();
    if (!process.env.BENCHFARM_KEEP_FAULT_LOGS) rmSync(dir, { recursive: true, force: true });
    else console.log(`[leaf] logs kept in ${dir}/logs`);
  }, 60_000);

  it('the configs in deploy/nats parse (nats-server -t)', () => {
    const binary = findNatsServer()!;
    const files = ['cluster', 'leaf'].flatMap((sub) => readdirSync(join(repoRoot, 'deploy/nats', sub)).map((f) => join(repoRoot, 'deploy/nats', sub, f)));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const check = spawnSync(binary, ['-t', '-c', file], { encoding: 'utf8' });
      expect(`${file}: ${check.status} ${check.stderr}`).toMatch(/: 0 .*is valid/);
    }
  });

  it('an agent behind a leaf without JetStream and one behind a leaf with its own JetStream domain (both with BENCHFARM_NATS_JS_DOMAIN=hub) each do a job of the hub', async () => {
    agents.push(await startAgentProcess({ agentId: 'edge-plain', natsUrl: edge.url, grpcAddress: String(coordinator.ready.grpcAddress), dir, env: { BENCHFARM_NATS_JS_DOMAIN: 'hub' } }));
    agents.push(await startAgentProcess({ agentId: 'edge-js', natsUrl: edgeJs.url, grpcAddress: String(coordinator.ready.grpcAddress), dir, env: { BENCHFARM_NATS_JS_DOMAIN: 'hub' } }));
    // Without the domain the agent stops at start-up and says what is missing.
    await expect(startAgentProcess({ agentId: 'edge-nodomain', natsUrl: edge.url, grpcAddress: String(coordinator.ready.grpcAddress), dir })).rejects.toThrow(/JetStream is not reachable through the local JetStream API .*set the hub's JetStream domain/);
    for (const id of ['edge-plain', 'edge-js']) {
      await waitFor(`${id} registered in the hub's registry`, async () => ((await client.listAgents()).some((a) => a.agentId === id && !a.stale) ? true : undefined), 60_000);
    }
    const sweep = await createDerived(client, paddleOcrModelPath('cls'), QUICK_SWEEP);
    const done = await waitForSweep(client, sweep.id, 120_000);
    expect(done.jobs.map((j) => [j.agentId, j.state]).sort()).toEqual([
      ['edge-js', 'done'],
      ['edge-plain', 'done'],
    ]);
    for (const j of done.jobs) expect(j.result?.count).toBeGreaterThanOrEqual(10);
    expect(readSweepLedger(join(dir, 'coordinator.db'), sweep.id)).toMatchObject({ open: 0, lost: 0, duplicated: 0, results: 2 });
    // nats-server 2.9 does not extend JetStream's plain `$JS.API` over a leaf connection of the
    // global account ("JetStream Not Extended, adding deny [$JS.API.> $KV.> $OBJ.>]"): through
    // either leaf, the farm's streams are reached only under the hub's domain, which is why edge
    // agents set BENCHFARM_NATS_JS_DOMAIN=hub. The leaf's own JetStream holds none of them.
    const viaEdge = await connect({ servers: edge.url });
    const viaEdgeJs = await connect({ servers: edgeJs.url });
    try {
      await expect(jetstreamManager(viaEdge)).rejects.toThrow(/jetstream is not enabled|no responders/);
      expect((await (await jetstreamManager(viaEdge, { domain: 'hub' })).streams.info(JOB_STREAM)).config.num_replicas).toBe(3);
      const local: string[] = [];
      for await (const name of (await jetstreamManager(viaEdgeJs)).streams.names()) local.push(name);
      expect(local.filter((n) => (FARM_STREAMS as readonly string[]).includes(n))).toEqual([]);
      expect((await (await jetstreamManager(viaEdgeJs, { domain: 'hub' })).streams.info(JOB_STREAM)).config.num_replicas).toBe(3);
    } finally {
      await viaEdge.close();
      await viaEdgeJs.close();
    }
  }, 180_000);
});
