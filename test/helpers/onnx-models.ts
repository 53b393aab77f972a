/**
 * Tiny ONNX models for tests: the output is a constant tensor whatever the input, so a decoder's
 * result is known exactly. The input is still consumed (ReduceSum(input) * 0 is added to the
 * constant) so onnxruntime accepts and feeds it.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeModel, floatTensor, node, valueInfo } from '../../scripts/lib/onnx-builder.js';

export function constantOutputModel(opts: { inputDims: number[]; outputDims: number[]; output: ArrayLike<number>; outputName?: string }): Uint8Array {
  const outName = opts.outputName ?? 'output0';
  const size = opts.outputDims.reduce((a, b) => a * b, 1);
  if (opts.output.length !== size) throw new Error(`output has ${opts.output.length} values, dims need ${size}`);
  return encodeModel({
    name: 'constant',
    nodes: [
      node('ReduceSum', ['images'], ['sum'], { keepdims: 0 }),
      node('Mul', ['sum', 'zero'], ['nothing']),
      node('Add', ['value', 'nothing'], [outName]),
    ],
    initializers: [floatTensor('zero', [], [0]), floatTensor('value', opts.outputDims, opts.output)],
    inputs: [valueInfo('images', opts.inputDims)],
    outputs: [valueInfo(outName, opts.outputDims)],
    opset: 18,
  });
}

export interface YoloBox {
  cx: number;
  cy: number;
  w: number;
  h: number;
  /** per-class scores */
  scores: number[];
  /** v5 only */
  objectness?: number;
}

/** The raw output of a YOLO export holding `boxes` (in input pixels): v5 [1, N, 5 + C], v8/v11 [1, 4 + C, N]. */
export function yoloOutput(layout: 'v5' | 'v8', boxes: YoloBox[], numClasses: number): { dims: number[]; data: Float32Array } {
  const n = boxes.length;
  if (layout === 'v5') {
    const attrs = 5 + numClasses;
    const data = new Float32Array(n * attrs);
    boxes.forEach((b, i) => {
      data.set([b.cx, b.cy, b.w, b.h, b.objectness ?? 1, ...b.scores], i * attrs);
    });
    return { dims: [1, n, attrs], data };
  }
  const attrs = 4 + numClasses;
  const data = new Float32Array(n * attrs);
  boxes.forEach((b, i) => {
    [b.cx, b.cy, b.w, b.h, ...b.scores].forEach((v, k) => {
      data[k * n + i] = v;
    });
  });
  return { dims: [1, attrs, n], data };
}

/** Writes `<name>.onnx` + `<name>.json` into a fresh temporary models folder (or `dir`) and returns it. */
export async function writeModel(name: string, onnx: Uint8Array, manifest: Record<string, unknown>, dir?: string): Promise<string> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'lookout-models-')));
  await writeFile(join(d, `${name}.onnx`), onnx);
  await writeFile(join(d, `${name}.json`), JSON.stringify({ name, file: `${name}.onnx`, ...manifest }, null, 2));
  return d;
}

/**
 * An ImageNet-style classifier in miniature, as torchvision exports them: NCHW float input [batch, 3, h, w]
 * (dynamic batch), global average pool, then logits = mean-per-channel x `weights` [3, K] + `bias` [K]. For a
 * uniform image the logits are known exactly: ((v - mean) / std) x weights + bias.
 */
export function imagenetStyleClassifier(opts: { size: [number, number]; weights: number[][]; bias: number[] }): Uint8Array {
  const k = opts.bias.length;
  const [w, h] = opts.size;
  return encodeModel({
    name: 'tiny-imagenet-style',
    nodes: [
      node('GlobalAveragePool', ['input'], ['pooled']),
      node('Flatten', ['pooled'], ['flat'], { axis: 1 }),
      node('MatMul', ['flat', 'W'], ['mm']),
      node('Add', ['mm', 'B'], ['logits']),
    ],
    initializers: [floatTensor('W', [3, k], opts.weights.flat()), floatTensor('B', [k], opts.bias)],
    inputs: [valueInfo('input', ['batch', 3, h, w])],
    outputs: [valueInfo('logits', ['batch', k])],
    opset: 18,
  });
}
