/**
 * deploy/: every YAML parses; the compose file and the Kubernetes manifests
 * agree with each other and with what rolegate loads (no Docker engine or
 * cluster here, so this is what can be checked); `rolegate demo-upstream` runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { loadPolicy } from '../../src/policy/index.js';
import { CLI, ROOT, workspace } from './workspace.js';

const DEPLOY = join(ROOT, 'deploy');
function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(f) ? [p] : [];
  });
}
// compose files use YAML merge keys (`<<: *gateway`), as Docker Compose does
const docs = (file: string) => parseAllDocuments(readFileSync(file, 'utf8'), { merge: true }) as unknown as { errors: unknown[]; warnings: unknown[]; toJS(): any }[]; // eslint-disable-line @typescript-eslint/no-explicit-any

test('every YAML file under deploy/ parses without errors or warnings', () => {
  const files = yamlFiles(DEPLOY);
  assert.ok(files.length >= 9, files.join(', '));
  for (const f of files) {
    for (const d of docs(f)) {
      assert.deepEqual([d.errors.length, d.warnings.length], [0, 0], `${relative(ROOT, f)}: ${JSON.stringify([...d.errors, ...d.warnings])}`);
    }
  }
});

test('docker compose: two gateways from the repo Dockerfile, Redis, the demo upstream, a config on store.redis', () => {
  const compose = docs(join(DEPLOY, 'docker-compose.yml'))[0]!.toJS();
  const s = compose.services;
  assert.deepEqual(Object.keys(s).sort(), ['gateway-1', 'gateway-2', 'redis', 'seed', 'upstream']);
  for (const g of ['gateway-1', 'gateway-2']) {
    assert.deepEqual(s[g].build, { context: '..', dockerfile: 'Dockerfile' });
    assert.deepEqual(s[g].command, ['serve', '--config', '/etc/rolegate/gateway.yaml']);
    assert.equal(s[g].depends_on.redis.condition, 'service_healthy');
  }
  assert.notDeepEqual(s['gateway-1'].ports, s['gateway-2'].ports);
  assert.equal(s.upstream.command[0], 'demo-upstream');
  assert.equal(s.seed.command[0], 'import');
  assert.ok(existsSync(join(DEPLOY, '..', 'Dockerfile')));
  assert.match(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), /COPY config \.\/config/, 'the seed service imports /app/config/demo-members.yaml from the image');

  const config = loadConfig(join(DEPLOY, 'compose', 'gateway.yaml'));
  assert.equal(config.store.redis?.url, 'redis://redis:6379');
  assert.equal(config.upstreams.portal!.url, 'http://upstream:3000');
  assert.deepEqual([config.listen.host, config.listen.port, config.ops.host, config.ops.port], ['0.0.0.0', 8080, '0.0.0.0', 9090]);
  // in the container the config is /etc/rolegate/gateway.yaml, so its relative paths land in the mounts
  const inContainer = (p: string) => `/etc/rolegate/${relative(config.dir, p)}`;
  const mounts: string[] = s['gateway-1'].volumes;
  assert.ok(mounts.includes(`../policies:${dirname(inContainer(config.policy.paths[0]!))}:ro`));
  assert.ok(mounts.includes(`./compose/keys/public.pem:${inContainer(config.auth.jwt.public_key_file!)}:ro`));
  assert.ok(mounts.includes('./compose/gateway.yaml:/etc/rolegate/gateway.yaml:ro'));
  loadPolicy([join(ROOT, 'policies', 'portal.yaml')], { upstreams: new Set(Object.keys(config.upstreams)), methods: config.http.methods });
});

test('kubernetes: Deployment probes on the ops port, Service, ConfigMaps, Secret, PDB, HPA agree', () => {
  const dir = join(DEPLOY, 'k8s');
  const kustomization = docs(join(dir, 'kustomization.yaml'))[0]!.toJS();
  const objects = (kustomization.resources as string[]).flatMap((f) => {
    assert.ok(existsSync(join(dir, f)), f);
    return docs(join(dir, f)).map((d) => d.toJS());
  });
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  for (const k of ['Namespace', 'ConfigMap', 'Secret', 'Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']) assert.ok(byKind(k).length > 0, k);

  const dep = byKind('Deployment')[0];
  const pod = dep.spec.template;
  const c = pod.spec.containers[0];
  const ports = Object.fromEntries(c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
  assert.deepEqual(ports, { http: 8080, ops: 9090, admin: 9091 });
  assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'ops' });
  assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'ops' });
  const labels = pod.metadata.labels;
  const matches = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
  assert.ok(matches(dep.spec.selector.matchLabels));
  for (const svc of byKind('Service')) assert.ok(matches(svc.spec.selector), svc.metadata.name);
  // the admin API has its own cluster-internal Service; the client-facing one never exposes it
  const servicePorts = (name: string) => byKind('Service').find((svc) => svc.metadata.name === name).spec.ports.map((p: { targetPort: string }) => p.targetPort);
  assert.deepEqual(servicePorts('rolegate'), ['http']);
  assert.deepEqual(servicePorts('rolegate-admin'), ['admin']);
  assert.ok(matches(byKind('PodDisruptionBudget')[0].spec.selector.matchLabels));
  assert.equal(byKind('HorizontalPodAutoscaler')[0].spec.scaleTargetRef.name, dep.metadata.name);

  // the config the pods mount loads, names the mounted folders, and its policy compiles
  const [configMap, policyMap] = ['rolegate-config', 'rolegate-policy'].map((n) => byKind('ConfigMap').find((m) => m.metadata.name === n));
  const ws = workspace({ 'gateway.yaml': configMap.data['gateway.yaml'], ...Object.fromEntries(Object.entries(policyMap.data as Record<string, string>).map(([f, t]) => [`policy/${f}`, t])) });
  try {
    const config = loadConfig(ws.config);
    assert.deepEqual([config.listen.port, config.ops.port, config.admin?.port], [ports.http, ports.ops, ports.admin]);
    // a copy that drifts from the shipped policy would enforce yesterday's rules in the cluster
    assert.equal(policyMap.data['portal.yaml'], readFileSync(join(ROOT, 'policies', 'portal.yaml'), 'utf8'), 'rolegate-policy is policies/portal.yaml verbatim');
    assert.deepEqual(config.store.redis?.sentinels, ['rolegate-redis:26379']);
    assert.equal(config.store.redis?.password_env, 'REDIS_PASSWORD');
    assert.ok(c.env.some((e: { name: string }) => e.name === 'REDIS_PASSWORD'));
    const mountOf = (volume: string) => c.volumeMounts.find((m: { name: string }) => m.name === volume).mountPath;
    assert.equal(config.policy.paths[0], mountOf('policy'));
    assert.equal(config.auth.jwt.jwks_file, `${mountOf('keys')}/jwks.json`);
    assert.deepEqual(c.args, ['serve', '--config', `${mountOf('config')}/gateway.yaml`]);
    assert.ok(c.volumeMounts.every((m: { subPath?: string }) => m.subPath === undefined), 'no subPath: ConfigMap edits must reach the pod');
    const policy = loadPolicy([join(ws.dir, 'policy')], { upstreams: new Set(Object.keys(config.upstreams)), methods: config.http.methods });
    assert.ok(policy.routes.routes.length > 0);
    assert.ok(byKind('Secret')[0].stringData['jwks.json']);
  } finally {
    ws.close();
  }
});

test('rolegate demo-upstream serves the demo portal', async () => {
  const child = spawn(process.execPath, [CLI, 'demo-upstream', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => { buf += d; const m = /listening on (http:\S+)/.exec(buf); if (m) resolve(m[1]!); });
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    const res = await fetch(`${url}/api/public/status`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ok');
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});
