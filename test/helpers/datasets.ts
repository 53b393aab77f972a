/** Helpers for dataset and job tests: uploads through the real multipart route, generated media, disk checks. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { FIXTURES } from './onnx-setup.js';
import type { TestServer } from './server.js';

export async function createDataset(s: TestServer, token: string, name = `ds-${Math.random().toString(36).slice(2, 8)}`): Promise<{ id: string; name: string }> {
  const r = await s.call('POST', '/api/v1/datasets', { token, body: { name } });
  if (r.status !== 201) throw new Error(`create dataset: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { dataset: { id: string; name: string } }).dataset;
}

/** POSTs `bytes` as the multipart field `file` (or `field`). */
export function upload(s: TestServer, token: string, datasetId: string, filename: string, bytes: Uint8Array, field = 'file'): Promise<Response> {
  const form = new FormData();
  form.append(field, new Blob([bytes]), filename);
  return fetch(`${s.url}/api/v1/datasets/${datasetId}/files`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
}

/** Every file under DATA_DIR/datasets and DATA_DIR/jobs (relative paths), to prove refusals leave nothing. */
export async function storedFiles(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const top of ['datasets', 'jobs']) {
    const root = path.join(dataDir, top);
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isFile()) out.push(path.relative(dataDir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

/** `n` different small JPEGs cut from the fixture photos (the face photo among them, so blazeface finds faces). */
export async function makeImages(n: number): Promise<{ name: string; bytes: Buffer }[]> {
  const photos = await Promise.all(['astronaut.jpg', 'chelsea.jpg', 'coffee.jpg', 'rocket.jpg'].map((f) => readFile(path.join(FIXTURES, f))));
  const out: { name: string; bytes: Buffer }[] = [];
  for (let i = 0; i < n; i++) {
    const size = 160 + (i % 5) * 40;
    const bytes = await sharp(photos[i % photos.length]).resize(size, size, { fit: 'cover' }).jpeg({ quality: 80 }).toBuffer();
    out.push({ name: `img-${String(i).padStart(2, '0')}.jpg`, bytes });
  }
  return out;
}
