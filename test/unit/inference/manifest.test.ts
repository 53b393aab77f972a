import { describe, expect, it } from 'vitest';
import { COCO80 } from '../../../src/inference/coco-labels.js';
import { parseManifest } from '../../../src/inference/manifest.js';

const base = { name: 'yolov8n', family: 'yolo', file: 'yolov8n.onnx', inputSize: [640, 640], labels: 'coco80' };

describe('parseManifest', () => {
  it('fills the defaults of a minimal YOLO manifest', () => {
    const m = parseManifest(base, 'yolov8n.json');
    expect(m).toMatchObject({
      name: 'yolov8n',
      family: 'yolo',
      inputSize: [640, 640],
      normalisation: { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'RGB', layout: 'NCHW' },
      scoreThreshold: 0.25,
      overlapThreshold: 0.45,
      resize: 'letterbox',
      padValue: 114,
      nms: 'hard',
      default: false,
      yolo: { version: 'auto' },
    });
    expect(m.labels).toEqual(COCO80);
    expect(COCO80).toHaveLength(80);
  });

  it.each([
    [{ ...base, family: 'ssd' }, /"family" must be one of/],
    [{ ...base, file: '../etc/passwd.onnx' }, /"file"/],
    [{ ...base, inputSize: [640] }, /inputSize/],
    [{ ...base, labels: [] }, /labels/],
    [{ ...base, scoreThreshold: 2 }, /scoreThreshold/],
    [{ ...base, normalisation: { std: [0, 1, 1] } }, /std/],
    [{ ...base, name: 'a b' }, /name/],
    ['[]', /not a JSON object/],
  ])('refuses %j', (raw, message) => {
    expect(() => parseManifest(raw, 'x.json')).toThrow(message);
  });

  it('reads the committed manifests', async () => {
    const { readFile } = await import('node:fs/promises');
    for (const name of ['blazeface', 'nanodet']) {
      const raw = JSON.parse(await readFile(new URL(`../../../models/${name}.json`, import.meta.url), 'utf8')) as unknown;
      const m = parseManifest(raw, name);
      expect(m.family).toBe(name);
      expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});
