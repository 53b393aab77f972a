/**
 * Pipelines in batch jobs, on real parts (BullMQ, ffmpeg, the real models): BlazeFace + the emotion classifier
 * gives the same classification as one-call inference; a video of two crossing faces keeps two track ids
 * through the crossing; a classifier as the model classifies whole pictures; the results export as COCO (schema
 * checked, read back to the same boxes) and CSV; bad pipelines are 400s naming the field with nothing reserved.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset, inState, type Job, upload, waitForJob } from '../../helpers/datasets.js';
import { CROSSING, makeCrossingClip } from '../../helpers/media.js';
import { ensureModels, FIXTURES } from '../../helpers/onnx-setup.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';

/** The parts of the COCO detection format a reader relies on (cocodataset.org "Data format", detection). */
const COCO_SCHEMA = {
  type: 'object',
  required: ['images', 'annotations', 'categories'],
  properties: {
    images: { type: 'array', items: { type: 'object', required: ['id', 'file_name', 'width', 'height'], properties: { id: { type: 'integer' }, file_name: { type: 'string' }, width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 } } } },
    annotations: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'image_id', 'category_id', 'bbox', 'area', 'iscrowd'],
        properties: {
          id: { type: 'integer' },
          image_id: { type: 'integer' },
          category_id: { type: 'integer', minimum: 1 },
          bbox: { type: 'array', items: { type: 'number', minimum: 0 }, minItems: 4, maxItems: 4 },
          area: { type: 'number', minimum: 0 },
          iscrowd: { enum: [0, 1] },
          score: { type: 'number', minimum: 0, maximum: 1 },
        },
      },
    },
    categories: { type: 'array', minItems: 1, items: { type: 'object', required: ['id', 'name'], properties: { id: { type: 'integer' }, name: { type: 'string' } } } },
  },
} as const;

interface CocoDoc {
  images: { id: number; file_name: string; frame_index?: number }[];
  annotations: { image_id: number; category_id: number; bbox: number[]; track_id?: number; classification?: { label: string } }[];
  categories: { id: number; name: string }[];
}

/** A COCO file read back into boxes per picture / frame, as a COCO reader would. */
function importCoco(c: CocoDoc): { key: string; boxes: { label: string; box: number[]; trackId: number | null; classification: string | null }[] }[] {
  const names = new Map(c.categories.map((k) => [k.id, k.name]));
  return c.images.map((im) => ({
    key: im.frame_index === undefined ? im.file_name : `${im.file_name}#${im.frame_index}`,
    boxes: c.annotations
      .filter((a) => a.image_id === im.id)
      .map((a) => ({
        label: names.get(a.category_id)!,
        box: [a.bbox[0]!, a.bbox[1]!, Math.round((a.bbox[0]! + a.bbox[2]!) * 10) / 10, Math.round((a.bbox[1]! + a.bbox[3]!) * 10) / 10],
        trackId: a.track_id ?? null,
        classification: a.classification?.label ?? null,
      })),
  }));
}

let s: TestServer;
let tmp: string;
let astronaut: Buffer;
let crossing: Buffer;

interface Obj {
  label: string;
  score: number;
  box: number[];
  trackId?: number;
  zones?: string[];
  classification?: { label: string; score: number; top: { label: string; score: number }[] };
}
interface Results {
  job: Job & { pipeline: Record<string, unknown> };
  files: { name: string; kind: string; objects?: Obj[]; classifications?: { label: string; score: number }[]; frames?: { index: number; objects: Obj[] }[] }[];
}

beforeAll(async () => {
  await ensureModels();
  s = await startTestServer({ INITIAL_TOKENS: '500', PRELOAD_MODELS: 'true' });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-pipeline-jobs-'));
  astronaut = await readFile(path.join(FIXTURES, 'astronaut.jpg'));
  await makeCrossingClip(path.join(tmp, 'crossing.mp4'));
  crossing = await readFile(path.join(tmp, 'crossing.mp4'));
}, 180_000);
afterAll(async () => {
  await s?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function runJob(token: string, body: Record<string, unknown>): Promise<Results> {
  const sub = await s.call('POST', '/api/v1/jobs', { token, body });
  expect(sub.status).toBe(202);
  const job = ((await sub.json()) as { job: Job }).job;
  const done = await waitForJob(s, token, job.id, inState('completed', 'failed', 'cancelled'));
  expect(done.state).toBe('completed');
  return (await (await s.call('GET', `/api/v1/jobs/${job.id}/results`, { token })).json()) as Results;
}

describe('jobs with a pipeline', () => {
  it('two stages and tracking: the face classified as /infer does; two crossing faces keep two track ids', async () => {
    const { token } = await signUp(s);
    const ds = await createDataset(s, token);
    expect((await upload(s, token, ds.id, 'astronaut.jpg', astronaut)).status).toBe(201);
    expect((await upload(s, token, ds.id, 'crossing.mp4', crossing)).status).toBe(201);
    const r = await runJob(token, { datasetId: ds.id, model: 'blazeface', classifier: 'emotion' });
    expect(r.job.pipeline).toEqual({ classifier: 'emotion' });

    const image = r.files.find((f) => f.kind === 'image')!;
    const infer = await fetch(`${s.url}/api/v1/infer?model=blazeface&classifier=emotion`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' }, body: astronaut });
    const inferObjects = ((await infer.json()) as { results: { objects: Obj[] }[] }).results[0]!.objects;
    expect(image.objects!.map((o) => o.classification)).toEqual(inferObjects.map((o) => o.classification));
    expect(image.objects![0]!.classification!.label).toBe('happy');

    const video = r.files.find((f) => f.kind === 'video')!;
    const frames = video.frames!;
    expect(frames.length).toBe(90);
    // Which face each track id followed: A runs along the top (box centre y ~ 100), B lower down (~ 170).
    const band = new Map<number, Set<string>>();
    let both = 0;
    for (const f of frames) {
      if (f.objects.length === 2) both++;
      for (const o of f.objects) {
        expect(o.trackId).toBeDefined();
        expect(o.classification?.top).toHaveLength(5);
        const cy = (o.box[1]! + o.box[3]!) / 2;
        const set = band.get(o.trackId!) ?? new Set<string>();
        set.add(cy < (CROSSING.a(0).y + CROSSING.b(0).y) / 2 + CROSSING.face / 2 ? 'A' : 'B');
        band.set(o.trackId!, set);
      }
    }
    expect(both).toBeGreaterThan(60); // both faces seen in most frames (one hides part of the other for a while)
    expect([...band.keys()].sort()).toEqual([1, 2]);
    for (const s of band.values()) expect(s.size).toBe(1);
    // Exports: COCO passes a schema check and gives back the same boxes; CSV has one row per object.
    const coco = await s.call('GET', `/api/v1/jobs/${r.job.id}/results?format=coco`, { token });
    expect(coco.headers.get('content-disposition')).toBe(`attachment; filename="job-${r.job.id}.coco.json"`);
    const c = (await coco.json()) as CocoDoc;
    const validate = new Ajv({ allErrors: true }).compile(COCO_SCHEMA);
    expect(validate(c), JSON.stringify(validate.errors)).toBe(true);
    expect(importCoco(c)).toEqual(
      r.files.flatMap((f) => (f.kind === 'image' ? [{ key: f.name, objects: f.objects! }] : f.frames!.map((fr) => ({ key: `${f.name}#${fr.index}`, objects: fr.objects })))).map((x) => ({
        key: x.key,
        boxes: x.objects.map((o) => ({ label: o.label, box: o.box, trackId: o.trackId ?? null, classification: o.classification?.label ?? null })),
      })),
    );
    const csv = await s.call('GET', `/api/v1/jobs/${r.job.id}/results?format=csv`, { token });
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toBe('file,frame,label,score,x1,y1,x2,y2,classification,classification_score,track_id,zones');
    const objectCount = image.objects!.length + frames.reduce((n, f) => n + f.objects.length, 0);
    expect(lines).toHaveLength(1 + objectCount);
    const row = lines[1]!.split(',');
    expect(row.slice(0, 3)).toEqual(['astronaut.jpg', '', 'face']);
    expect(row[8]).toBe('happy');
    expect((await s.call('GET', `/api/v1/jobs/${r.job.id}/results?format=xml`, { token })).status).toBe(400);

    // They crossed: the track that started on the left ends on the right.
    const first = frames[0]!.objects.find((o) => o.trackId === 1)!;
    const last = [...frames].reverse().find((f) => f.objects.some((o) => o.trackId === 1))!.objects.find((o) => o.trackId === 1)!;
    expect(Math.sign(last.box[0]! - 320)).toBe(-Math.sign(first.box[0]! - 320));
  });

  it('a classifier as the model classifies every picture; zones and track=false apply to a video', async () => {
    const { token } = await signUp(s);
    const ds = await createDataset(s, token);
    expect((await upload(s, token, ds.id, 'astronaut.jpg', astronaut)).status).toBe(201);
    const whole = await runJob(token, { datasetId: ds.id, model: 'emotion' });
    expect(whole.files[0]!.classifications).toHaveLength(5);
    expect(whole.files[0]!.objects).toBeUndefined();
    const wholeCsv = (await (await s.call('GET', `/api/v1/jobs/${whole.job.id}/results?format=csv`, { token })).text()).trim().split('\n');
    expect(wholeCsv.slice(1).map((l) => l.split(',').slice(0, 3).join(','))).toEqual(whole.files[0]!.classifications!.map((c) => `astronaut.jpg,,${c.label}`));
    const wholeCoco = await s.call('GET', `/api/v1/jobs/${whole.job.id}/results?format=coco`, { token });
    expect(wholeCoco.status).toBe(400);
    expect(((await wholeCoco.json()) as { error: { message: string } }).error.message).toMatch(/^format:/);

    const ds2 = await createDataset(s, token);
    expect((await upload(s, token, ds2.id, 'crossing.mp4', crossing)).status).toBe(201);
    const zoned = await runJob(token, { datasetId: ds2.id, model: 'blazeface', track: false, zones: [{ name: 'left', polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]] }] });
    const objs = zoned.files[0]!.frames!.flatMap((f) => f.objects);
    expect(objs.length).toBeGreaterThan(50);
    for (const o of objs) {
      expect(o.trackId).toBeUndefined();
      expect(o.zones).toEqual(['left']);
      expect((o.box[0]! + o.box[2]!) / 2).toBeLessThanOrEqual(320);
    }
  });

  it('bad pipelines are 400 VALIDATION_FAILED naming the field, and nothing is reserved', async () => {
    const { token } = await signUp(s);
    const ds = await createDataset(s, token);
    expect((await upload(s, token, ds.id, 'astronaut.jpg', astronaut)).status).toBe(201);
    const square = [[0, 0], [1, 0], [1, 1], [0, 1]];
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ classifier: 'nope' }, /^classifier: unknown classifier/],
      [{ classifier: 'nanodet' }, /^classifier: "nanodet" is a detector/],
      [{ model: 'emotion', classifier: 'emotion' }, /^model: "emotion" is a classifier/],
      [{ zones: [{ name: 'z', polygon: [[0, 0], [1, 1]] }] }, /^zones\[0\]\.polygon/],
      [{ zones: [{ name: 'z', polygon: [[0, 0], [1, 1], [1.2, 0]] }] }, /^zones\[0\]\.polygon\[2\]/],
      [{ zones: Array.from({ length: 33 }, (_, i) => ({ name: `z${i}`, polygon: square })) }, /^zones:/],
      [{ zones: [{ name: 'z', polygon: Array.from({ length: 65 }, (_, i) => [i / 64, i % 2]) }] }, /^zones\[0\]\.polygon/],
      [{ minScore: 2 }, /^minScore/],
    ];
    for (const [extra, message] of cases) {
      const res = await s.call('POST', '/api/v1/jobs', { token, body: { datasetId: ds.id, model: 'blazeface', ...extra } });
      expect(res.status, JSON.stringify(extra)).toBe(400);
      const err = ((await res.json()) as { error: { code: string; message: string } }).error;
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.message).toMatch(message);
    }
    const jobs = ((await (await s.call('GET', '/api/v1/jobs', { token })).json()) as { jobs: unknown[] }).jobs;
    expect(jobs).toHaveLength(0);
    expect(((await (await s.call('GET', '/api/v1/tokens', { token })).json()) as { balance: number }).balance).toBe(500);
  });
});
