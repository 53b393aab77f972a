/**
 * `npm run bench:jobs [-- --images 60 --video-seconds 10 --models blazeface,nanodet]`
 *
 * Batch-job throughput against the detector alone. Starts Lookout in this process (temporary DATA_DIR, its
 * embedded PostgreSQL or DATABASE_URL, the in-server worker, the PostgreSQL queue), uploads an image dataset
 * (640×480 JPEGs cut from the fixture photos, as one zip) and a video dataset (a 640×480 30 fps H.264 clip),
 * runs a job per model on each, and prints items per second (job startedAt → finishedAt) next to what the
 * detector does alone in the same process on the same inputs (decode + detect per image; detect per 640×480
 * RGB frame). JSON goes to bench/results/.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { startApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { makeFaceClip } from '../test/helpers/media.js';
import { makeZip } from '../test/helpers/zip.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '60' },
    'video-seconds': { type: 'string', default: '10' },
    models: { type: 'string', default: 'blazeface,nanodet' },
  },
});
const nImages = Number(values.images);
const videoSeconds = Number(values['video-seconds']);
const models = values.models.split(',');
const root = path.resolve(import.meta.dirname, '..');
const tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-bench-jobs-'));
await chmod(tmp, 0o711); // as root, the embedded PostgreSQL runs as another user and must reach DATA_DIR inside

const config = loadConfig({
  ...process.env,
  PORT: '0',
  HOST: '127.0.0.1',
  DATA_DIR: path.join(tmp, 'data'),
  RECORDINGS_DIR: path.join(tmp, 'recordings'),
  MODELS_DIR: path.join(root, 'models'),
  INITIAL_TOKENS: '1000000',
  LOG_LEVEL: 'warn',
});
const app = await startApp(config, createLogger('warn'));

async function api<T>(method: string, p: string, token?: string, body?: unknown): Promise<T> {
  const r = await fetch(app.url + p, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

async function uploadTo(token: string, datasetId: string, name: string, bytes: Uint8Array): Promise<void> {
  const form = new FormData();
  form.append('file', new Blob([bytes]), name);
  const r = await fetch(`${app.url}/api/v1/datasets/${datasetId}/files`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  if (r.status !== 201) throw new Error(`upload ${name}: ${r.status} ${await r.text()}`);
}

interface Job { id: string; state: string; progress: { done: number; total: number }; startedAt?: string; finishedAt?: string; error?: string }

async function runJob(token: string, datasetId: string, model: string): Promise<{ items: number; seconds: number; itemsPerS: number }> {
  const { job } = await api<{ job: Job }>('POST', '/api/v1/jobs', token, { datasetId, model });
  let j = job;
  while (j.state === 'queued' || j.state === 'running') {
    await new Promise((r) => setTimeout(r, 200));
    j = (await api<{ job: Job }>('GET', `/api/v1/jobs/${job.id}`, token)).job;
  }
  if (j.state !== 'completed') throw new Error(`job ${j.id} ${j.state}: ${j.error ?? ''}`);
  const seconds = (Date.parse(j.finishedAt!) - Date.parse(j.startedAt!)) / 1000;
  return { items: j.progress.total, seconds: Math.round(seconds * 100) / 100, itemsPerS: Math.round((j.progress.total / seconds) * 10) / 10 };
}

try {
  const fixtures = await Promise.all(['astronaut.jpg', 'chelsea.jpg', 'coffee.jpg', 'rocket.jpg'].map((f) => readFile(path.join(root, 'test/fixtures', f))));
  const images = await Promise.all(
    Array.from({ length: nImages }, (_, i) => sharp(fixtures[i % fixtures.length]).resize(640, 480, { fit: 'cover', position: ['centre', 'top', 'left', 'right'][i % 4] }).jpeg({ quality: 85 }).toBuffer()),
  );
  const clip = path.join(tmp, 'clip.mp4');
  await makeFaceClip(clip, { seconds: videoSeconds });
  const { token } = await api<{ token: string }>('POST', '/api/v1/auth/login', undefined, await (async () => {
    const creds = { email: 'bench@example.com', password: 'bench password 1' };
    await api('POST', '/api/v1/auth/register', undefined, creds);
    return creds;
  })());
  const imgDs = (await api<{ dataset: { id: string } }>('POST', '/api/v1/datasets', token, { name: 'images' })).dataset;
  await uploadTo(token, imgDs.id, 'images.zip', makeZip(images.map((b, i) => ({ name: `img${i}.jpg`, data: b }))));
  const vidDs = (await api<{ dataset: { id: string } }>('POST', '/api/v1/datasets', token, { name: 'video' })).dataset;
  await uploadTo(token, vidDs.id, 'clip.mp4', await readFile(clip));

  const frame = await sharp(images[0]).raw().toBuffer({ resolveWithObject: true });
  const rgb = { data: new Uint8Array(frame.data), width: frame.info.width, height: frame.info.height };
  const out: Record<string, unknown> = {};
  console.log(`bench:jobs: ${nImages} images 640×480, one ${videoSeconds} s 640×480 30 fps video (${videoSeconds * 30} frames)`);
  for (const model of models) {
    const d = await app.deps.engine.get(model);
    const alone = async (f: () => Promise<unknown>, n: number): Promise<number> => {
      for (let i = 0; i < 5; i++) await f();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await f();
      return Math.round((n / ((performance.now() - t0) / 1000)) * 10) / 10;
    };
    const aloneImage = await alone(() => d.detectImage(images[Math.floor(Math.random() * images.length)]!), 60);
    const aloneFrame = await alone(() => d.detectFrame(rgb), 60);
    const img = await runJob(token, imgDs.id, model);
    const vid = await runJob(token, vidDs.id, model);
    out[model] = { images: { ...img, detectorAlonePerS: aloneImage, ratio: Math.round((img.itemsPerS / aloneImage) * 100) / 100 }, video: { ...vid, detectorAlonePerS: aloneFrame, ratio: Math.round((vid.itemsPerS / aloneFrame) * 100) / 100 } };
    const pct = (a: number, b: number): string => `${Math.round((a / b) * 100)}%`;
    console.log(`  ${model.padEnd(10)} images: ${img.itemsPerS} /s in a job (${img.items} in ${img.seconds} s) vs ${aloneImage} /s detector alone (decode + detect): ${pct(img.itemsPerS, aloneImage)}`);
    console.log(`  ${''.padEnd(10)} video:  ${vid.itemsPerS} frames/s in a job (${vid.items} in ${vid.seconds} s, with the annotated re-encode) vs ${aloneFrame} /s detector alone: ${pct(vid.itemsPerS, aloneFrame)}`);
  }
  await mkdir(path.join(root, 'bench/results'), { recursive: true });
  const file = path.join(root, 'bench/results', `jobs-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify({ at: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, images: nImages, videoSeconds, results: out }, null, 2));
  console.log(`written ${file}`);
} finally {
  await app.close();
  await rm(tmp, { recursive: true, force: true });
}
