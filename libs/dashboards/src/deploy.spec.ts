// Validates deploy/ without a container engine (none runs here): the compose file, the
// Prometheus configs and rules (with promtool), the Grafana provisioning and the generated
// dashboards, and every reference between them (service names, ports, paths, uids).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COORDINATOR_JOB, DATASOURCE, renderAllDashboards } from './index';

const deploy = resolve(dirname(fileURLToPath(import.meta.url)), '../../../deploy');
const readYaml = <T>(path: string): T => parse(readFileSync(join(deploy, path), 'utf8')) as T;

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: string[];
}
const compose = readYaml<{ services: Record<string, Service>; volumes: Record<string, unknown> }>('compose.yaml');
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`compose.yaml has no service ${name}`);
  return s;
};
/** Container port published for `service`, from "host:container" entries. */
const containerPorts = (s: Service): number[] => (s.ports ?? []).map((p) => Number(p.split(':').at(-1)));
/** The container path a host path (relative to deploy/) is mounted at. */
const mountOf = (s: Service, hostPath: string): string | undefined =>
  (s.volumes ?? []).map((v) => v.split(':')).find(([host]) => host === hostPath)?.[1];

describe('deploy/compose.yaml', () => {
  it('has NATS with JetStream, the coordinator, an agent, Prometheus and Grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['agent', 'coordinator', 'grafana', 'nats', 'prometheus']);
    expect(service('nats').command).toContain('--jetstream');
    for (const name of Object.keys(compose.services)) {
      const s = service(name);
      expect(s.image ?? s.build, `${name} has an image or a build`).toBeDefined();
      for (const dep of s.depends_on ?? []) expect(compose.services, `${name} depends on ${dep}`).toHaveProperty(dep);
    }
  });

  it('publishes each host port once, and every published port is the one the service listens on', () => {
    const hostPorts = Object.values(compose.services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':')[0]));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    const coordinator = service('coordinator').environment!;
    expect(containerPorts(service('coordinator'))).toEqual([Number(coordinator.BENCHFARM_HTTP_PORT), Number(coordinator.BENCHFARM_GRPC_PORT)]);
    expect(coordinator.BENCHFARM_HTTP_HOST).toBe('0.0.0.0');
    expect(coordinator.BENCHFARM_GRPC_HOST).toBe('0.0.0.0');
  });

  it('points the coordinator and the agent at the NATS service, and the agent at the coordinator gRPC port', () => {
    const nats = new URL(service('coordinator').environment!.BENCHFARM_NATS_URL!);
    expect(nats.hostname).toBe('nats');
    expect(containerPorts(service('nats'))).toContain(Number(nats.port));
    const agent = service('agent').environment!;
    expect(agent.BENCHFARM_NATS_URL).toBe(service('coordinator').environment!.BENCHFARM_NATS_URL);
    expect(agent.BENCHFARM_GRPC_ADDRESS).toBe(`coordinator:${service('coordinator').environment!.BENCHFARM_GRPC_PORT}`);
  });

  it('mounts only paths that exist, and declares every named volume', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const volume of s.volumes ?? []) {
        const [host] = volume.split(':');
        if (host!.startsWith('.')) expect(existsSync(join(deploy, host!)), `${name} mounts ${host}`).toBe(true);
        else expect(compose.volumes, `${name} uses volume ${host}`).toHaveProperty(host!);
      }
      if (s.build) expect(existsSync(join(deploy, s.build.context, s.build.dockerfile)), `${name} Dockerfile`).toBe(true);
    }
  });
});

describe('Prometheus configuration', () => {
  const compose_ = readYaml<{ rule_files: string[]; scrape_configs: Array<{ job_name: string; metrics_path: string; static_configs: Array<{ targets: string[] }> }> }>('prometheus/prometheus.yml');
  const bare = readYaml<typeof compose_>('prometheus.yml');

  it('scrapes the coordinator service on its HTTP port, under the job name the dashboards use', () => {
    const job = compose_.scrape_configs.find((j) => j.job_name === COORDINATOR_JOB);
    expect(job?.metrics_path).toBe('/metrics');
    expect(job?.static_configs[0]?.targets).toEqual([`coordinator:${service('coordinator').environment!.BENCHFARM_HTTP_PORT}`]);
    expect(bare.scrape_configs.map((j) => j.job_name)).toContain(COORDINATOR_JOB);
  });

  it('mounts the config and the rules where Prometheus reads them', () => {
    const prom = service('prometheus');
    const configPath = prom.command!.find((c) => c.startsWith('--config.file='))!.split('=')[1];
    expect(mountOf(prom, './prometheus/prometheus.yml')).toBe(configPath);
    const rulesDir = mountOf(prom, './prometheus/rules')!;
    expect(compose_.rule_files).toEqual([`${rulesDir}/*.yml`]);
    expect(containerPorts(prom)).toContain(9090);
  });

  it('passes promtool (config and alert rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bf-promtool-'));
    try {
      // The compose config names container paths; check a copy whose rule path is this checkout's.
      const copy = readFileSync(join(deploy, 'prometheus/prometheus.yml'), 'utf8').replace('/etc/prometheus/rules/*.yml', join(deploy, 'prometheus/rules/*.yml'));
      writeFileSync(join(dir, 'prometheus.yml'), copy);
      const out = execFileSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
      expect(out).toMatch(/SUCCESS: 1 rule files found/);
      expect(execFileSync('promtool', ['check', 'config', join(deploy, 'prometheus.yml')], { encoding: 'utf8' })).toMatch(/SUCCESS: 1 rule files found/);
      expect(execFileSync('promtool', ['check', 'rules', join(deploy, 'prometheus/rules/benchfarm.yml')], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Grafana provisioning', () => {
  const grafana = service('grafana');
  const datasources = readYaml<{ apiVersion: number; datasources: Array<{ uid: string; type: string; url: string }> }>('grafana/provisioning/datasources/prometheus.yaml');
  const providers = readYaml<{ apiVersion: number; providers: Array<{ type: string; options: { path: string } }> }>('grafana/provisioning/dashboards/benchfarm.yaml');

  it('mounts the provisioning folder where Grafana reads it', () => {
    expect(mountOf(grafana, './grafana/provisioning')).toBe('/etc/grafana/provisioning');
    expect(grafana.depends_on).toContain('prometheus');
  });

  it('provisions the Prometheus service as the datasource uid the dashboards use', () => {
    expect(datasources.apiVersion).toBe(1);
    const [ds] = datasources.datasources;
    expect(ds?.uid).toBe(DATASOURCE.uid);
    expect(ds?.type).toBe(DATASOURCE.type);
    const url = new URL(ds!.url);
    expect(url.hostname).toBe('prometheus');
    expect(containerPorts(service('prometheus'))).toContain(Number(url.port));
  });

  it('loads the dashboards from the folder the generated JSON is mounted at', () => {
    expect(providers.providers[0]?.type).toBe('file');
    expect(mountOf(grafana, './grafana/dashboards')).toBe(providers.providers[0]?.options.path);
    const home = grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
    expect(home.startsWith(`${providers.providers[0]!.options.path}/`)).toBe(true);
    expect(existsSync(join(deploy, 'grafana/dashboards', home.split('/').at(-1)!))).toBe(true);
  });

  it('has exactly the generated dashboards, up to date, with unique uids and only the provisioned datasource', () => {
    const rendered = renderAllDashboards();
    const files = readdirSync(join(deploy, 'grafana/dashboards')).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual([...rendered.keys()].sort());
    const uids = new Set<string>();
    for (const [file, json] of rendered) {
      expect(readFileSync(join(deploy, 'grafana/dashboards', file), 'utf8'), `${file} is stale: npm run dashboards`).toBe(json);
      const parsed = JSON.parse(json) as { uid: string };
      expect(uids.has(parsed.uid)).toBe(false);
      uids.add(parsed.uid);
      const refs = [...json.matchAll(/"datasource": \{\s*"type": "(\w+)",\s*"uid": "([^"]+)"/g)].map((m) => `${m[1]}/${m[2]}`);
      expect(refs.length).toBeGreaterThan(0);
      expect(new Set(refs)).toEqual(new Set([`${DATASOURCE.type}/${DATASOURCE.uid}`]));
    }
  });
});

describe('deploy/systemd/benchfarm-agent.service', () => {
  it('documents the variables the agent reads', () => {
    const unit = readFileSync(join(deploy, 'systemd/benchfarm-agent.service'), 'utf8');
    for (const name of ['BENCHFARM_NATS_URL', 'BENCHFARM_GRPC_ADDRESS', 'BENCHFARM_AGENT_CACHE']) expect(unit).toContain(name);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node .*agent\S*main\.m?[jt]s$/m);
  });
});
