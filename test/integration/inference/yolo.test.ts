/**
 * YOLO decoding end to end through onnxruntime: tiny models whose output is a known constant in each
 * Ultralytics layout, so the exact boxes after NMS and letterbox reversal are known.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { constantOutputModel, writeModel, yoloOutput, type YoloBox } from '../../helpers/onnx-models.js';
import { useEngine } from '../../helpers/onnx-setup.js';

const LABELS = ['cat', 'dog', 'bird'];
// In 640x640 input pixels; a 1280x720 source is letterboxed at scale 0.5 with 140 px bars above and below.
const BOXES: YoloBox[] = [
  { cx: 320, cy: 320, w: 100, h: 50, scores: [0.9, 0, 0] }, // cat
  { cx: 325, cy: 320, w: 100, h: 50, scores: [0.8, 0, 0] }, // cat, IoU 0.9 with the first: suppressed
  { cx: 322, cy: 322, w: 100, h: 50, scores: [0, 0.7, 0] }, // dog over the cat: kept (class-aware NMS)
  { cx: 600, cy: 200, w: 100, h: 60, scores: [0, 0, 0.6] }, // bird past the right edge: clamped
  { cx: 100, cy: 400, w: 20, h: 20, scores: [0.1, 0.2, 0.1] }, // below the threshold
];
const EXPECTED = [
  { label: 'cat', classId: 0, score: 0.9, box: [540, 310, 740, 410] },
  { label: 'dog', classId: 1, score: 0.7, box: [544, 314, 744, 414] },
  { label: 'bird', classId: 2, score: 0.6, box: [1100, 60, 1280, 180] },
];
const frame = { data: new Uint8Array(1280 * 720 * 3), width: 1280, height: 720 };

const engine = useEngine(async () => {
  const manifest = { family: 'yolo', inputSize: [640, 640], labels: LABELS, normalisation: { std: [255, 255, 255] }, scoreThreshold: 0.25, overlapThreshold: 0.45 };
  const v8 = yoloOutput('v8', BOXES, 3);
  const v5boxes = [...BOXES, { cx: 50, cy: 300, w: 10, h: 10, scores: [0.9, 0, 0], objectness: 0.2 }];
  const v5 = yoloOutput('v5', v5boxes, 3);
  const dir = await writeModel('yolov8-test', constantOutputModel({ inputDims: [1, 3, 640, 640], outputDims: v8.dims, output: v8.data }), manifest);
  await writeModel('yolo11-test', constantOutputModel({ inputDims: [1, 3, 640, 640], outputDims: v8.dims, output: v8.data }), { ...manifest, yolo: { version: 'v11' } }, dir);
  await writeModel('yolov5-test', constantOutputModel({ inputDims: [1, 3, 640, 640], outputDims: v5.dims, output: v5.data }), manifest, dir);
  return dir;
}, { intraOpThreads: 1 });

describe('YOLO layouts', () => {
  it('serves every dropped-in model', () => {
    expect(engine().list().map((m) => [m.name, m.family, m.labels.length])).toEqual([
      ['yolo11-test', 'yolo', 3],
      ['yolov5-test', 'yolo', 3],
      ['yolov8-test', 'yolo', 3],
    ]);
  });

  it.each(['yolov8-test', 'yolo11-test'])('%s: [1, 4 + C, N] gives the exact boxes in source pixels', async (name) => {
    const d = await engine().get(name);
    const r = await d.detectFrame(frame);
    expect(r).toMatchObject({ width: 1280, height: 720 });
    expect(r.objects).toEqual(EXPECTED);
  });

  it('yolov5: [1, N, 5 + C] multiplies objectness and class score', async () => {
    const d = await engine().get('yolov5-test');
    const r = await d.detectFrame(frame);
    expect(r.objects).toEqual(EXPECTED);
  });

  it('the same boxes come back for an encoded PNG of the same size', async () => {
    const png = await sharp(frame.data, { raw: { width: 1280, height: 720, channels: 3 } }).png().toBuffer();
    const d = await engine().get('yolov8-test');
    const r = await d.detectImage(new Uint8Array(png));
    expect(r.objects).toEqual(EXPECTED);
    expect(r.timings.decodeMs).toBeGreaterThan(0);
  });

  it('a portrait source maps back through vertical bars; a box wholly in a bar is dropped', async () => {
    // 360x640 -> scale 1, bars of 140 px left and right; the bird (x 550-650) lies in the right bar
    const d = await engine().get('yolov8-test');
    const r = await d.detectFrame({ data: new Uint8Array(360 * 640 * 3), width: 360, height: 640 });
    expect(r.objects).toEqual([
      { label: 'cat', classId: 0, score: 0.9, box: [130, 295, 230, 345] },
      { label: 'dog', classId: 1, score: 0.7, box: [132, 297, 232, 347] },
    ]);
  });
});
