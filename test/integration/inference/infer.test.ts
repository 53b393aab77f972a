/**
 * One-call inference and the Deepstack endpoint, through the real server with the real models: the same
 * detections as the CLI, per-image errors and charges, the annotated JPEG, 402/413/415/400/404/503, and the
 * request exactly as Frigate's `deepstack` detector sends it.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, ensureModels } from '../../helpers/onnx-setup.js';
import { ROOT } from '../../helpers/process.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';

let s: TestServer;
let astronaut: Buffer;
let chelsea: Buffer;

beforeAll(async () => {
  await ensureModels();
  s = await startTestServer({ PRELOAD_MODELS: 'true', INITIAL_TOKENS: '10', INFER_CONCURRENCY: '1', INFER_MAX_BYTES: String(2 * 1024 * 1024), DEEPSTACK_MODEL: 'nanodet' });
  astronaut = await readFile(path.join(FIXTURES, 'astronaut.jpg'));
  chelsea = await readFile(path.join(FIXTURES, 'chelsea.jpg'));
}, 120_000);
afterAll(async () => s?.close());

type Result = { name?: string; width: number; height: number; objects: { label: string; score: number; box: number[] }[] } | { name?: string; error: { code: string } };

async function infer(token: string, body: Buffer | string | FormData, headers: Record<string, string> = {}, query = ''): Promise<Response> {
  return fetch(`${s.url}/api/v1/infer${query}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers }, body });
}

async function balance(token: string): Promise<number> {
  return ((await (await s.call('GET', '/api/v1/tokens', { token })).json()) as { balance: number }).balance;
}

function form(files: Array<[string, Uint8Array]>): FormData {
  const f = new FormData();
  for (const [name, bytes] of files) f.append('image', new Blob([bytes]), name);
  return f;
}

describe('POST /api/v1/infer', () => {
  it('one JPEG gives the same detections as the CLI on that file, and costs one image', async () => {
    const u = await signUp(s);
    const res = await infer(u.token, astronaut, { 'content-type': 'image/jpeg' }, '?model=blazeface');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: Result[]; tokensCharged: number };
    expect(body.tokensCharged).toBe(0.75);
    const cli = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/detect.ts'), path.join(FIXTURES, 'astronaut.jpg'), '--model', 'blazeface'], { cwd: ROOT, timeout: 60_000 });
    const expected = JSON.parse(cli.stdout) as { width: number; height: number; objects: unknown[] };
    const got = body.results[0]!;
    expect('objects' in got && got.objects.length).toBeGreaterThan(0);
    expect(got).toMatchObject({ width: expected.width, height: expected.height, objects: expected.objects });
    expect(await balance(u.token)).toBe(10 - 0.75);
  });

  it('three images, one corrupt: two results, one error in its slot, two images charged', async () => {
    const u = await signUp(s);
    const corrupt = astronaut.subarray(0, 2000);
    const res = await infer(u.token, form([['a.jpg', astronaut], ['broken.jpg', corrupt], ['cat.jpg', chelsea]]), {}, '?model=nanodet');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: Result[]; tokensCharged: number };
    expect(body.results.map((r) => r.name)).toEqual(['a.jpg', 'broken.jpg', 'cat.jpg']);
    expect(body.results[1]).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA' } });
    const cat = body.results[2]!;
    expect('objects' in cat && cat.objects.some((o) => o.label === 'cat')).toBe(true);
    expect(body.tokensCharged).toBe(1.5);
    expect(await balance(u.token)).toBe(10 - 1.5);
    const ledger = (await (await s.call('GET', '/api/v1/tokens/ledger', { token: u.token })).json()) as { entries: { amount: number; reason: string }[] };
    const spent = ledger.entries.filter((e) => e.reason !== 'initial').reduce((a, e) => a + e.amount, 0);
    expect(Math.round(spent * 1000) / 1000).toBe(-1.5);
  });

  it('annotate=true with Accept: image/jpeg answers the annotated JPEG, filters applied', async () => {
    const u = await signUp(s);
    const res = await infer(u.token, chelsea, { 'content-type': 'image/jpeg', accept: 'image/jpeg' }, '?model=nanodet&annotate=true&classes=cat&minScore=0.3');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const jpeg = Buffer.from(await res.arrayBuffer());
    const meta = await sharp(jpeg).metadata();
    const src = await sharp(chelsea).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', src.width, src.height]);
    expect(jpeg.equals(chelsea)).toBe(false); // boxes were drawn
    const json = (await (await infer(u.token, chelsea, { 'content-type': 'image/jpeg' }, '?model=nanodet&classes=cat&minScore=0.3')).json()) as { results: Result[] };
    const r = json.results[0]!;
    expect('objects' in r && r.objects.length > 0 && r.objects.every((o) => o.label === 'cat' && o.score >= 0.3)).toBe(true);
  });

  it('a balance too low gets 402 and nothing is charged', async () => {
    const u = await signUp(s);
    const images = Array.from({ length: 14 }, (_, i): [string, Uint8Array] => [`${i}.jpg`, astronaut]); // 10.5 tokens
    const res = await infer(u.token, form(images));
    expect(res.status).toBe(402);
    expect(await balance(u.token)).toBe(10);
  });

  it('refuses bad input: 415, 413 (read by the client), 400 past 16 images, 404 for an unknown model, 400 for a bad filter', async () => {
    const u = await signUp(s);
    const code = async (r: Response): Promise<[number, string]> => [r.status, ((await r.json()) as { error: { code: string } }).error.code];
    expect(await code(await infer(u.token, Buffer.from('<html>hello</html>'), { 'content-type': 'image/jpeg' }))).toEqual([415, 'UNSUPPORTED_MEDIA']);
    expect(await code(await infer(u.token, 'hello', { 'content-type': 'text/plain' }))).toEqual([415, 'UNSUPPORTED_MEDIA']);
    expect(await code(await infer(u.token, Buffer.alloc(3 * 1024 * 1024, 1), { 'content-type': 'image/jpeg' }))).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).jpeg().toBuffer();
    expect(await code(await infer(u.token, form(Array.from({ length: 17 }, (_, i): [string, Uint8Array] => [`${i}.jpg`, tiny]))))).toEqual([400, 'VALIDATION_FAILED']);
    expect(await code(await infer(u.token, tiny, { 'content-type': 'image/jpeg' }, '?model=nope'))).toEqual([404, 'NOT_FOUND']);
    expect(await code(await infer(u.token, tiny, { 'content-type': 'image/jpeg' }, '?minScore=2'))).toEqual([400, 'VALIDATION_FAILED']);
    expect(await balance(u.token)).toBe(10);
  });

  it('past INFER_CONCURRENCY a request gets 503 with Retry-After at once', async () => {
    const u = await signUp(s);
    // The first request holds the only place: its body is still coming.
    const slow = http.request(`${s.url}/api/v1/infer`, { method: 'POST', headers: { authorization: `Bearer ${u.token}`, 'content-type': 'image/jpeg', 'transfer-encoding': 'chunked' } });
    slow.on('error', () => undefined);
    slow.write(astronaut.subarray(0, 1000));
    await new Promise((r) => setTimeout(r, 300));
    const busy = await infer(u.token, astronaut, { 'content-type': 'image/jpeg' });
    expect(busy.status).toBe(503);
    expect(Number(busy.headers.get('retry-after'))).toBeGreaterThan(0);
    slow.end(astronaut.subarray(1000));
    await new Promise<void>((resolve) => slow.on('response', (r) => (r.resume(), resolve())));
    expect((await infer(u.token, astronaut, { 'content-type': 'image/jpeg' })).status).toBe(200);
  });
});

/** The request Frigate's deepstack detector sends: requests.post(url, data={"api_key": key}, files={"image": jpeg}). */
function frigateRequest(jpeg: Uint8Array, apiKey: string): { body: Buffer; contentType: string } {
  const boundary = 'c8f0a1f6a43e4d1b9f3b2c1d0e9f8a7b';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="api_key"\r\n\r\n${apiKey}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="image"\r\n\r\n`),
    jpeg,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

describe('POST /api/v1/infer with a pipeline', () => {
  it('blazeface + the emotion classifier: every face classified, the same answer as the detect CLI, one image charged', async () => {
    const u = await signUp(s);
    const res = await infer(u.token, astronaut, { 'content-type': 'image/jpeg' }, '?model=blazeface&classifier=emotion');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: { objects: { classification?: { label: string; top: unknown[] } }[]; timings: { classifyMs?: number } }[]; tokensCharged: number };
    const faces = body.results[0]!.objects;
    expect(faces.length).toBeGreaterThan(0);
    for (const f of faces) expect(f.classification?.top).toHaveLength(5);
    expect(faces[0]!.classification!.label).toBe('happy');
    expect(body.results[0]!.timings.classifyMs).toBeGreaterThan(0);
    expect(body.tokensCharged).toBe(0.75);
    const cli = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'src/cli/detect.ts'), path.join(FIXTURES, 'astronaut.jpg'), '--model', 'blazeface', '--classifier', 'emotion'],
      { cwd: ROOT, timeout: 60_000 },
    );
    expect((JSON.parse(cli.stdout) as { objects: unknown[] }).objects).toEqual(faces);
  });

  it('a classifier as the model gives the top 5 classifications of the whole image', async () => {
    const u = await signUp(s);
    const res = await infer(u.token, astronaut, { 'content-type': 'image/jpeg' }, '?model=emotion');
    expect(res.status).toBe(200);
    const r = ((await res.json()) as { results: { classifications: { label: string; score: number }[]; objects?: unknown }[] }).results[0]!;
    expect(r.objects).toBeUndefined();
    expect(r.classifications).toHaveLength(5);
    expect(r.classifications.map((c) => c.score)).toEqual([...r.classifications.map((c) => c.score)].sort((a, b) => b - a));
  });

  it('bad pipelines are 400 VALIDATION_FAILED naming the field, and nothing is charged', async () => {
    const u = await signUp(s);
    const cases: [string, RegExp][] = [
      ['?classifier=nope', /^classifier: unknown classifier/],
      ['?classifier=nanodet', /^classifier: "nanodet" is a detector/],
      ['?model=emotion&classifier=emotion', /^model: "emotion" is a classifier/],
      ['?minScore=1.5', /^minScore/],
      ['?maxDetections=0', /^maxDetections/],
    ];
    for (const [query, message] of cases) {
      const res = await infer(u.token, astronaut, { 'content-type': 'image/jpeg' }, query);
      expect(res.status, query).toBe(400);
      const err = ((await res.json()) as { error: { code: string; message: string } }).error;
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.message).toMatch(message);
    }
    expect(await balance(u.token)).toBe(10);
  });
});

describe('POST /v1/vision/detection (Deepstack)', () => {
  it('answers a Frigate-shaped request the way Frigate reads it, and charges one image', async () => {
    const u = await signUp(s);
    const { key } = (await (await s.call('POST', '/api/v1/api-keys', { token: u.token, body: { name: 'frigate' } })).json()) as { key: string };
    // Frigate sends a square region of the frame, at the model's size, as a JPEG.
    const frame = await sharp(chelsea).resize(320, 320, { fit: 'cover' }).jpeg().toBuffer();
    const req = frigateRequest(frame, key);
    const res = await fetch(`${s.url}/v1/vision/detection`, { method: 'POST', headers: { 'content-type': req.contentType }, body: req.body });
    expect(res.status).toBe(200);
    const j = (await res.json()) as { success: boolean; duration: number; predictions: { label: string; confidence: number; x_min: number; y_min: number; x_max: number; y_max: number }[] };
    expect(j.success).toBe(true);
    expect(Number.isInteger(j.duration)).toBe(true);
    expect(j.predictions.length).toBeGreaterThan(0);
    expect(j.predictions.length).toBeLessThanOrEqual(20);
    expect(j.predictions.some((p) => p.label === 'cat')).toBe(true);
    const conf = j.predictions.map((p) => p.confidence);
    expect(conf).toEqual([...conf].sort((a, b) => b - a)); // Frigate stops at the first below 0.4
    expect(Math.min(...conf)).toBeGreaterThanOrEqual(0.4);
    for (const p of j.predictions) {
      for (const v of [p.x_min, p.y_min, p.x_max, p.y_max]) expect(Number.isInteger(v) && v >= 0 && v <= 320).toBe(true);
      expect(p.x_max).toBeGreaterThan(p.x_min);
    }
    expect(await balance(u.token)).toBe(10 - 0.75);
  });

  it('a bad or missing key gets the Deepstack-style error, and nothing is charged', async () => {
    const u = await signUp(s);
    const bad = frigateRequest(await sharp(chelsea).jpeg().toBuffer(), 'lk_' + 'z'.repeat(32));
    const r1 = await fetch(`${s.url}/v1/vision/detection`, { method: 'POST', headers: { 'content-type': bad.contentType }, body: bad.body });
    expect(r1.status).toBe(401);
    expect(await r1.json()).toEqual({ success: false, error: 'Incorrect api key' });
    const none = frigateRequest(await sharp(chelsea).jpeg().toBuffer(), '');
    const r2 = await fetch(`${s.url}/v1/vision/detection`, { method: 'POST', headers: { 'content-type': none.contentType }, body: none.body });
    expect(r2.status).toBe(401);
    expect(((await r2.json()) as { success: boolean }).success).toBe(false);
    expect(await balance(u.token)).toBe(10);
  });
});
