/** The two bundled real models on public-domain / CC0 photos (test/fixtures/LICENSES.md). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Detection } from '../../../src/inference/index.js';
import { ensureModels, FIXTURES, MODELS_DIR, useEngine } from '../../helpers/onnx-setup.js';

const iou = (a: readonly number[], b: readonly number[]): number => {
  const [ax1 = 0, ay1 = 0, ax2 = 0, ay2 = 0] = a;
  const [bx1 = 0, by1 = 0, bx2 = 0, by2 = 0] = b;
  const iw = Math.max(0, Math.min(ax2, bx2) - Math.max(ax1, bx1));
  const ih = Math.max(0, Math.min(ay2, by2) - Math.max(ay1, by1));
  const inter = iw * ih;
  return inter / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter);
};
const fixture = (name: string): Promise<Uint8Array> => readFile(join(FIXTURES, name)).then((b) => new Uint8Array(b));
const labels = (objects: Detection[]): string[] => objects.map((o) => o.label);

const engine = useEngine(async () => {
  await ensureModels();
  return MODELS_DIR;
});

describe('bundled models', () => {
  it('lists blazeface, nanodet and the emotion classifier, nanodet being the default', () => {
    const list = engine().list();
    expect(list.map((m) => m.name).sort()).toEqual(['blazeface', 'emotion', 'nanodet']);
    expect(list.find((m) => m.name === 'emotion')).toMatchObject({ kind: 'classifier', family: 'classifier', inputSize: [64, 64], default: false });
    expect(list.find((m) => m.name === 'emotion')?.labels).toEqual(['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']);
    expect(list.find((m) => m.name === 'blazeface')).toEqual({ name: 'blazeface', kind: 'detector', family: 'blazeface', inputSize: [256, 256], labels: ['face'], default: false });
    expect(list.find((m) => m.name === 'nanodet')).toMatchObject({ family: 'nanodet', inputSize: [416, 416], default: true });
    expect(list.find((m) => m.name === 'nanodet')?.labels).toHaveLength(80);
    expect(engine().defaultModel()).toBe('nanodet');
  });
});

describe('blazeface', () => {
  it("finds the astronaut's face (IoU >= 0.5 with the hand-checked box)", async () => {
    const d = await engine().get('blazeface');
    const r = await d.detectImage(await fixture('astronaut.jpg'));
    expect(r).toMatchObject({ width: 512, height: 512 });
    expect(r.objects).toHaveLength(1);
    const face = r.objects[0];
    expect(face).toMatchObject({ label: 'face', classId: 0 });
    // forehead to chin, cheek to cheek, judged by eye on the 512x512 photo
    expect(iou(face?.box ?? [], [180, 75, 270, 175])).toBeGreaterThanOrEqual(0.5);
    expect(face?.score).toBeGreaterThan(0.7);
  });

  it('finds no face on a photo without people (rocket)', async () => {
    const d = await engine().get('blazeface');
    const r = await d.detectImage(await fixture('rocket.jpg'));
    expect(r).toMatchObject({ width: 640, height: 427, objects: [] });
  });
});

describe('nanodet', () => {
  it('finds the cat on chelsea, covering most of the photo', async () => {
    const d = await engine().get('nanodet');
    const r = await d.detectImage(await fixture('chelsea.jpg'));
    expect(r.objects[0]?.label).toBe('cat');
    const [x1 = 0, y1 = 0, x2 = 0, y2 = 0] = r.objects[0]?.box ?? [];
    expect((x2 - x1) * (y2 - y1)).toBeGreaterThan(0.5 * 451 * 300);
  });

  it('finds the cup on coffee, around the cup', async () => {
    const d = await engine().get('nanodet');
    const r = await d.detectImage(await fixture('coffee.jpg'));
    const cup = r.objects.find((o) => o.label === 'cup');
    expect(labels(r.objects)).toContain('cup');
    // the cup's rim and body span about x 172-410, y 20-250 (by eye)
    expect(iou(cup?.box ?? [], [172, 20, 410, 250])).toBeGreaterThanOrEqual(0.5);
  });

  it('finds the person on astronaut', async () => {
    const d = await engine().get('nanodet');
    const r = await d.detectImage(await fixture('astronaut.jpg'));
    expect(r.objects[0]).toMatchObject({ label: 'person', classId: 0 });
  });

  it('gives the same answer for a raw RGB24 frame as for the encoded image', async () => {
    const bytes = await fixture('chelsea.jpg');
    const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const d = await engine().get('nanodet');
    const fromFrame = await d.detectFrame({ data: new Uint8Array(data), width: info.width, height: info.height });
    const fromImage = await d.detectImage(bytes);
    expect(fromFrame.objects).toEqual(fromImage.objects);
    expect(fromFrame.timings.decodeMs).toBe(0);
    for (const k of ['preprocessMs', 'inferMs', 'postprocessMs', 'totalMs'] as const) expect(fromFrame.timings[k]).toBeGreaterThan(0);
  });

  it('detects a frame in its own pixels after a different-size frame (tables rebuilt)', async () => {
    const bytes = await fixture('chelsea.jpg');
    const d = await engine().get('nanodet');
    const big = await sharp(bytes).resize(902, 600).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const r = await d.detectFrame({ data: new Uint8Array(big.data), width: big.info.width, height: big.info.height });
    expect(r).toMatchObject({ width: 902, height: 600 });
    expect(r.objects[0]?.label).toBe('cat');
    expect(Math.max(...(r.objects[0]?.box ?? []))).toBeGreaterThan(451);
  });
});
