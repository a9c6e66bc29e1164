import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { QueueKeys } from 'bullmq';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { BUNDLE_QUEUE, WorkerConfigError, loadWorkerConfig } from '@bundlefarm/queue';
import { S3_PART_SINK_DEFAULTS } from '@bundlefarm/s3';
import { REPO } from '../helpers/fixtures.js';
import { writeIdentity } from '../helpers/identity.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * deploy/kubernetes, checked offline: every object against the Kubernetes API's schemas
 * (kubernetes-models 4.5, generated from the Kubernetes OpenAPI document) or KEDA's CRD schemas
 * (@kubernetes-models/keda 0.4, generated from KEDA's CRDs; it predates `scalingModifiers`, checked here
 * by rule), then what no schema knows: that the files agree with each other and with the code.
 * These schemas do not refuse unknown fields (the Kubernetes OpenAPI document does not say
 * additionalProperties: false); the cross-checks below read every field the deployment relies on.
 */
const DIR = join(REPO, 'deploy', 'kubernetes');
type Obj = { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string> };

const VALIDATORS: Record<string, (o: Obj) => void> = {
  'v1/ConfigMap': (o) => new ConfigMap(o).validate(),
  'v1/Service': (o) => new Service(o).validate(),
  'apps/v1/Deployment': (o) => new Deployment(o).validate(),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o).validate(),
  'keda.sh/v1alpha1/ScaledObject': (o) => new ScaledObject(o as never).validate(),
  'keda.sh/v1alpha1/TriggerAuthentication': (o) => new TriggerAuthentication(o as never).validate(),
};

async function manifests(): Promise<{ files: string[]; objects: Array<Obj & { file: string }> }> {
  const kustomization = parseAllDocuments(await readFile(join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
  const objects: Array<Obj & { file: string }> = [];
  for (const file of kustomization.resources) {
    const docs = parseAllDocuments(await readFile(join(DIR, file), 'utf8'), { prettyErrors: true, uniqueKeys: true });
    for (const doc of docs) {
      assert.deepEqual(doc.errors.map(String), [], `${file}: YAML errors`);
      assert.deepEqual(doc.warnings.map(String), [], `${file}: YAML warnings`);
      const o = doc.toJS() as Obj | null;
      if (o) objects.push({ ...o, file });
    }
  }
  return { files: kustomization.resources, objects };
}

const { files, objects } = await manifests();
const find = (kind: string, name: string): Obj & { file: string } => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind} ${name} is defined`);
  return o;
};
const api = find('Deployment', 'bundlefarm-api');
const worker = find('Deployment', 'bundlefarm-worker');
const workerJson = JSON.parse(find('ConfigMap', 'bundlefarm-worker').data!['worker.json']!) as Record<string, any>;
const prefix = find('ConfigMap', 'bundlefarm-env').data!.BUNDLEFARM_QUEUE_PREFIX!;
const strip = ({ file: _file, ...o }: Obj & { file: string }): Obj => o;

describe('deploy/kubernetes', () => {
  it('lists every manifest in kustomization.yaml, and each object is valid by its Kubernetes or KEDA schema', async () => {
    const onDisk = (await readdir(DIR)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    assert.deepEqual([...files].sort(), onDisk, 'kustomization.yaml lists every manifest');
    const kinds = new Set<string>();
    for (const o of objects) {
      const key = `${o.apiVersion}/${o.kind}`;
      const validate = VALIDATORS[key];
      assert.ok(validate, `${o.file}: no schema for ${key} here`);
      assert.doesNotThrow(() => validate(strip(o)), `${o.file}: ${key} ${o.metadata.name}`);
      kinds.add(o.kind);
    }
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'ConfigMap', 'ScaledObject', 'TriggerAuthentication']) assert.ok(kinds.has(kind), kind);
    assert.equal(objects.filter((o) => o.kind === 'Deployment').length, 2);
    // the validators are not vacuous: a wrong type, a missing required field and a bad enum are refused
    const broken = structuredClone(strip(worker));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'nine thousand';
    assert.throws(() => VALIDATORS['apps/v1/Deployment']!(broken), /containerPort/);
    const noTarget = structuredClone(strip(find('ScaledObject', 'bundlefarm-worker')));
    delete noTarget.spec.scaleTargetRef;
    assert.throws(() => VALIDATORS['keda.sh/v1alpha1/ScaledObject']!(noTarget), /scaleTargetRef/);
    const badPolicy = structuredClone(strip(find('Service', 'bundlefarm-api')));
    badPolicy.spec.ports[0].protocol = 'SCTP-ish';
    assert.throws(() => VALIDATORS['v1/Service']!(badPolicy));
  });

  it('selectors, ports and probes agree; the containers run the real programs with tini as PID 1', () => {
    for (const d of [api, worker]) {
      const labels = d.spec.template.metadata.labels as Record<string, string>;
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels as Record<string, string>)) assert.equal(labels[k], v, `${d.metadata.name}: selector ${k}`);
      const [c] = d.spec.template.spec.containers;
      assert.equal(c.command, undefined, `${d.metadata.name}: no command (the image's entrypoint, tini, must stay PID 1 to pass SIGTERM on)`);
      assert.equal(c.args[0], 'node', `${d.metadata.name}: node itself gets the signal (no shell, no npm)`);
      assert.ok(existsSync(join(REPO, c.args[1])), `${d.metadata.name}: ${c.args[1]} exists`);
      const ports = new Set((c.ports ?? []).map((p: { name: string }) => p.name));
      for (const probe of [c.readinessProbe, c.livenessProbe].filter(Boolean)) assert.ok(ports.has(probe.httpGet.port), `${d.metadata.name}: probe port ${probe.httpGet.port}`);
      const annotations = d.spec.template.metadata.annotations as Record<string, string>;
      assert.ok((c.ports ?? []).some((p: { containerPort: number }) => String(p.containerPort) === annotations['prometheus.io/port']), `${d.metadata.name}: the scrape port is a container port`);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.equal(d.spec.template.spec.securityContext.runAsNonRoot, true);
    }
    assert.equal(api.spec.template.spec.containers[0].args[1], 'apps/api/bin/bundlefarm-api.js');
    assert.equal(worker.spec.template.spec.containers[0].args[1], 'apps/worker/bin/bundlefarm-worker.js');
    const service = find('Service', 'bundlefarm-api');
    assert.deepEqual(service.spec.selector, api.spec.selector.matchLabels);
    const apiPorts = api.spec.template.spec.containers[0].ports.map((p: { name: string }) => p.name);
    for (const p of service.spec.ports) assert.ok(apiPorts.includes(p.targetPort), `Service port → ${p.targetPort}`);
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    assert.equal(pdbs.length, 2);
    for (const pdb of pdbs) {
      const target = [api, worker].find((d) => Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
      assert.ok(target, `PDB ${pdb.metadata.name} selects a Deployment's pods`);
    }
    // the worker's metrics: the port worker.json names, reachable from outside the pod, with /healthz for the liveness probe
    const wc = worker.spec.template.spec.containers[0];
    assert.equal(wc.ports.find((p: { name: string }) => p.name === 'metrics').containerPort, workerJson.metricsPort);
    assert.equal(wc.env.find((e: { name: string }) => e.name === 'BUNDLEFARM_WORKER_METRICS_HOST')?.value, '0.0.0.0');
    assert.equal(wc.livenessProbe.httpGet.path, '/healthz');
  });

  it('termination grace periods cover the shutdown the code does on SIGTERM', () => {
    const w = worker.spec.template.spec;
    const needed = workerJson.shutdownGraceMs / 1000 + S3_PART_SINK_DEFAULTS.settleMs / 1000 + 15;
    assert.ok(w.terminationGracePeriodSeconds >= needed, `worker: ${w.terminationGracePeriodSeconds} s >= shutdownGraceMs + settle + 15 s = ${needed} s`);
    const a = api.spec.template.spec;
    const preStop = a.containers[0].lifecycle?.preStop?.sleep?.seconds ?? 0;
    assert.ok(a.terminationGracePeriodSeconds >= preStop + 60, 'API: preStop + the 60 s request timeout');
    assert.ok(find('PodDisruptionBudget', 'bundlefarm-worker').spec.maxUnavailable >= 1, 'a drain can move workers');
  });

  it('worker.json is a configuration the worker loads (only the key files are the pod\'s)', async () => {
    const dir = await tempDir('bundlefarm-k8s-');
    await mkdir(join(dir, 'keys'));
    const written = await writeIdentity(join(dir, 'keys'));
    // the key paths point into the Secret's mount; here at files of the test's own
    const text = find('ConfigMap', 'bundlefarm-worker').data!['worker.json']!.replaceAll('/etc/bundlefarm/keys/release-key.pem', written.key).replaceAll('/etc/bundlefarm/keys/release-cert.pem', written.cert);
    await writeFile(join(dir, 'worker.json'), text);
    try {
      const config = await loadWorkerConfig({ BUNDLEFARM_CONFIG: join(dir, 'worker.json'), BUNDLEFARM_QUEUE_PREFIX: prefix, BUNDLEFARM_WORKER_METRICS_HOST: '0.0.0.0' });
      assert.deepEqual(config.metrics, { host: '0.0.0.0', port: 9464 });
      assert.equal(config.prefix, prefix);
      const volumeMount = worker.spec.template.spec.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'keys');
      for (const id of Object.values<{ key: string; cert: string }>(workerJson.identities)) {
        assert.ok(id.key.startsWith(`${volumeMount.mountPath}/`) && id.cert.startsWith(`${volumeMount.mountPath}/`), 'keys from the Secret mount');
      }
    } catch (err) {
      assert.fail(err instanceof WorkerConfigError ? JSON.stringify(err.problems) : String(err));
    }
  });

  it('KEDA scales on the BullMQ lists the queue really uses, waiting plus running jobs over each worker\'s concurrency', () => {
    const so = find('ScaledObject', 'bundlefarm-worker');
    assert.equal(so.spec.scaleTargetRef.name, worker.metadata.name);
    const keys = new QueueKeys(prefix).getKeys(BUNDLE_QUEUE);
    const triggers = new Map<string, any>(so.spec.triggers.map((t: { name: string }) => [t.name, t]));
    assert.equal(triggers.get('wait')?.metadata.listName, keys.wait, 'the wait list, by BullMQ 6 key naming');
    assert.equal(triggers.get('active')?.metadata.listName, keys.active, 'the active list');
    for (const t of triggers.values()) {
      assert.equal(t.type, 'redis');
      find('TriggerAuthentication', t.authenticationRef.name);
    }
    const modifiers = so.spec.advanced.scalingModifiers;
    const names = new Set(modifiers.formula.match(/[A-Za-z_][A-Za-z0-9_]*/g));
    assert.deepEqual([...names].sort(), [...triggers.keys()].sort(), 'the formula uses every trigger, and only triggers');
    assert.equal(Number(modifiers.target), workerJson.concurrency ?? 1, 'one worker per `concurrency` jobs');
    assert.equal(modifiers.metricType, 'AverageValue');
    assert.ok(so.spec.minReplicaCount >= 1 && so.spec.maxReplicaCount > so.spec.minReplicaCount);
  });

  it('commits no secret: Secrets are referenced, never defined, and each is documented', async () => {
    assert.equal(objects.filter((o) => o.kind === 'Secret').length, 0);
    const readme = await readFile(join(DIR, 'README.md'), 'utf8');
    const secretNames = new Set<string>();
    const configMapNames = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, any>;
        if (o.secretKeyRef) secretNames.add(o.secretKeyRef.name);
        if (o.secret?.secretName) secretNames.add(o.secret.secretName);
        if (o.configMapKeyRef) configMapNames.add(o.configMapKeyRef.name);
        if (o.configMapRef) configMapNames.add(o.configMapRef.name);
        if (o.configMap?.name) configMapNames.add(o.configMap.name);
        if (Array.isArray(o.secretTargetRef)) o.secretTargetRef.forEach((r: { name: string }) => secretNames.add(r.name));
        Object.values(o).forEach(walk);
      }
    };
    objects.forEach(walk);
    assert.ok(secretNames.size >= 4, [...secretNames].join(', '));
    for (const name of secretNames) assert.match(readme, new RegExp(`create secret generic ${name} `), `README.md tells how to create ${name}`);
    for (const name of configMapNames) find('ConfigMap', name);
    // nothing that looks like a credential in a ConfigMap
    for (const cm of objects.filter((o) => o.kind === 'ConfigMap')) {
      assert.doesNotMatch(JSON.stringify(cm.data), /PRIVATE KEY|password|secretAccessKey"\s*:|AKIA[0-9A-Z]{12}/i, cm.metadata.name);
    }
  });
});
