/**
 * The Kubernetes manifests under deploy/k8s validate against the Kubernetes API's schemas (offline), and the
 * check does catch what is wrong: a copy with a broken field, an unknown kind and bad YAML each fail.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkManifests } from '../../../scripts/check-manifests.js';
import { ROOT } from '../../helpers/process.js';
import { useTempDir } from '../../helpers/temp-dir.js';

const DIR = path.join(ROOT, 'deploy/k8s');
const tmp = useTempDir('lookout-k8s-');

describe('Kubernetes manifests', () => {
  it('every document validates: servers with readiness, preStop drain and a Service; workers scaled by KEDA', async () => {
    const results = await checkManifests(DIR);
    expect(results.filter((r) => r.error)).toEqual([]);
    const kinds = results.map((r) => `${r.kind} ${r.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining(['apps/v1/Deployment lookout-server', 'v1/Service lookout', 'apps/v1/Deployment lookout-worker', 'keda.sh/v1alpha1/ScaledObject lookout-worker']),
    );
    const server = await readFile(path.join(DIR, 'server.yaml'), 'utf8');
    expect(server).toMatch(/readinessProbe:\s+httpGet: \{ path: \/api\/v1\/health/);
    expect(server).toMatch(/preStop:\s+exec:\s+command: \[node, dist\/src\/cli\/drain\.js\]/);
    expect(server).not.toMatch(/sessionAffinity: ClientIP/);
  });

  it('a broken field, an unknown kind or bad YAML fails', async () => {
    const dir = path.join(tmp(), 'broken');
    await cp(DIR, dir, { recursive: true });
    const server = await readFile(path.join(dir, 'server.yaml'), 'utf8');
    await writeFile(path.join(dir, 'server.yaml'), server.replace('replicas: 3', 'replicas: three'));
    await writeFile(path.join(dir, 'extra.yaml'), 'apiVersion: example.com/v1\nkind: Gadget\nmetadata: { name: g }\n');
    await writeFile(path.join(dir, 'bad.yaml'), 'kind: [unclosed\n');
    const failed = (await checkManifests(dir)).filter((r) => r.error);
    expect(failed.map((r) => r.file).sort()).toEqual(['bad.yaml', 'extra.yaml', 'server.yaml']);
    expect(failed.find((r) => r.file === 'server.yaml')!.error).toMatch(/replicas must be integer/);
  });
});
