/**
 * PRICE_CLASSIFIED_CROP: each detection the classifier stage classifies costs extra, held before the classifier
 * runs. When the balance covers it the crops are classified and charged; when it does not, the detections come
 * back unclassified and the crops cost nothing. One-call inference and jobs, on the real server and models.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset, inState, type Job, upload, waitForJob } from '../../helpers/datasets.js';
import { ensureModels, FIXTURES } from '../../helpers/onnx-setup.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';

let s: TestServer;
let astronaut: Buffer;

beforeAll(async () => {
  await ensureModels();
  s = await startTestServer({ PRELOAD_MODELS: 'true', INITIAL_TOKENS: '2', PRICE_CLASSIFIED_CROP: '1' });
  astronaut = await readFile(path.join(FIXTURES, 'astronaut.jpg'));
}, 120_000);
afterAll(async () => s?.close());

type Face = { classification?: { label: string } };
const balance = async (token: string): Promise<number> => ((await (await s.call('GET', '/api/v1/tokens', { token })).json()) as { balance: number }).balance;

describe('PRICE_CLASSIFIED_CROP', () => {
  it('/infer: the face crop costs 1 on top of the image when the balance covers it', async () => {
    const u = await signUp(s);
    const res = await fetch(`${s.url}/api/v1/infer?model=blazeface&classifier=emotion`, { method: 'POST', headers: { authorization: `Bearer ${u.token}`, 'content-type': 'image/jpeg' }, body: astronaut });
    const body = (await res.json()) as { results: { objects: Face[] }[]; tokensCharged: number };
    expect(body.results[0]!.objects).toHaveLength(1);
    expect(body.results[0]!.objects[0]!.classification?.label).toBe('happy');
    expect(body.tokensCharged).toBe(1.75);
    expect(await balance(u.token)).toBe(0.25);
  });

  it('/infer: when the balance does not cover the crops, the faces come back unclassified and cost nothing extra', async () => {
    const u = await signUp(s);
    const form = new FormData();
    form.append('image', new Blob([astronaut]), 'a.jpg');
    form.append('image', new Blob([astronaut]), 'b.jpg');
    const res = await fetch(`${s.url}/api/v1/infer?model=blazeface&classifier=emotion`, { method: 'POST', headers: { authorization: `Bearer ${u.token}` }, body: form });
    const body = (await res.json()) as { results: { objects: Face[] }[]; tokensCharged: number };
    for (const r of body.results) {
      expect(r.objects).toHaveLength(1);
      expect(r.objects[0]!.classification).toBeUndefined();
    }
    expect(body.tokensCharged).toBe(1.5);
    expect(await balance(u.token)).toBe(0.5);
  });

  it('jobs: the file is charged its image and its classified crop', async () => {
    const u = await signUp(s);
    const ds = await createDataset(s, u.token);
    expect((await upload(s, u.token, ds.id, 'astronaut.jpg', astronaut)).status).toBe(201);
    const sub = await s.call('POST', '/api/v1/jobs', { token: u.token, body: { datasetId: ds.id, model: 'blazeface', classifier: 'emotion' } });
    const job = ((await sub.json()) as { job: Job }).job;
    expect(job.tokenCost).toBe(0.75);
    const done = await waitForJob(s, u.token, job.id, inState('completed', 'failed', 'cancelled'));
    expect(done).toMatchObject({ state: 'completed', tokensCharged: 1.75 });
    expect(await balance(u.token)).toBe(0.25);
    const ledger = ((await (await s.call('GET', '/api/v1/tokens/ledger', { token: u.token })).json()) as { entries: { amount: number; ref: string | null }[] }).entries;
    expect(ledger.filter((e) => e.ref === `job:${job.id}`).reduce((n, e) => n + e.amount, 0)).toBe(-1.75);
  });
});
