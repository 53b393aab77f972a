/**
 * Validates the Kubernetes manifests under deploy/k8s offline: every document is checked against the
 * Kubernetes API's own JSON schemas (kubernetes-models, and @kubernetes-models/keda for KEDA's ScaledObject),
 * and a kind it does not know is an error. Prints one line per document; exits 1 on any error.
 *
 *   npm run deploy:check [-- dir]
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';

type Model = new (data: never) => { validate(): void };
const MODELS: Record<string, Model> = {
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

export interface ManifestResult {
  readonly file: string;
  readonly kind: string;
  readonly name: string;
  readonly error?: string;
}

/** Every document of every .yaml/.yml file in `dir`, validated. */
export async function checkManifests(dir: string): Promise<ManifestResult[]> {
  const results: ManifestResult[] = [];
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  for (const file of files) {
    const docs = parseAllDocuments(await readFile(path.join(dir, file), 'utf8'));
    for (const doc of docs) {
      if (doc.errors.length > 0) {
        results.push({ file, kind: '?', name: '?', error: doc.errors.map((e) => e.message).join('; ') });
        continue;
      }
      const data = doc.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null;
      if (!data) continue;
      const kind = `${data.apiVersion ?? '?'}/${data.kind ?? '?'}`;
      const name = data.metadata?.name ?? '?';
      const Model = MODELS[kind];
      if (!Model) {
        results.push({ file, kind, name, error: `no schema for ${kind} here` });
        continue;
      }
      try {
        new Model(data as never).validate();
        results.push({ file, kind, name });
      } catch (err) {
        results.push({ file, kind, name, error: err instanceof Error ? err.message : String(err) });
      }
    }
  }
  return results;
}

async function main(): Promise<number> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const dir = path.resolve(process.argv[2] ?? path.join(root, 'deploy/k8s'));
  const results = await checkManifests(dir);
  for (const r of results) process.stdout.write(`${r.error ? 'FAIL' : 'ok  '} ${r.file}: ${r.kind} ${r.name}${r.error ? ` — ${r.error}` : ''}\n`);
  const failed = results.filter((r) => r.error).length;
  process.stdout.write(`${results.length - failed} valid, ${failed} invalid\n`);
  return failed === 0 && results.length > 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
