/**
 * Model manifests: one `<name>.json` per model in the models folder, validated here.
 *
 * Fields (defaults in brackets):
 * - name, kind ('detector' | 'classifier') ['detector'], file (the .onnx next to the manifest), sha256 [none]
 * - family: a detector's output decoder ('blazeface' | 'nanodet' | 'yolo'); a classifier's is 'classifier'
 * - inputSize [w, h] of the network input
 * - labels: an array of class names, or "coco80"
 * - normalisation: { mean [0,0,0], std [1,1,1] (per channel, in the model's channel order, applied to
 *   0..255 values), channelOrder 'RGB' | 'BGR' | 'GRAY' ['RGB'], layout 'NCHW' | 'NHWC' ['NCHW'] }
 *   ('GRAY': one channel, 0.299 R + 0.587 G + 0.114 B, normalised with mean[0] / std[0])
 * - scoreThreshold [0.25], overlapThreshold (NMS IoU) [0.45], maxDetections [100]
 * - resize: 'letterbox' (keep aspect ratio, pad) | 'stretch' ['letterbox'; a classifier's: 'stretch']; padValue 0..255 [114]
 * - nms: 'hard' | 'weighted' ['hard'], classAgnostic: false
 * - default [false]
 * - nanodet: { regMax [10], strides [8, 16, 32] }
 * - blazeface: { layers [{grid: 16, anchors: 2}, {grid: 8, anchors: 6}] }
 * - yolo: { version 'auto' | 'v5' | 'v8' | 'v11' ['auto': told from the output shape] }
 * - classifier: { activation 'softmax' | 'sigmoid' | 'none' ['softmax': the output is logits], cropPadding 0..1
 *   [0.1: a detection's box grows by this fraction of its size on each side before it is cut] }
 *   A classifier's single output is [batch, labels.length]; a torchvision/timm ImageNet export needs only
 *   name, kind, file, inputSize, labels and normalisation (mean [123.675, 116.28, 103.53], std [58.395, 57.12, 57.375]).
 */
import { AppError } from '../errors.js';
import { COCO80 } from './coco-labels.js';
import type { ModelFamily } from './types.js';

export type ChannelOrder = 'RGB' | 'BGR' | 'GRAY';
export type ModelKind = 'detector' | 'classifier';
export type Activation = 'softmax' | 'sigmoid' | 'none';
export type Layout = 'NCHW' | 'NHWC';

export interface Normalisation {
  mean: [number, number, number];
  std: [number, number, number];
  channelOrder: ChannelOrder;
  layout: Layout;
}

export interface ModelManifest {
  name: string;
  kind: ModelKind;
  family: ModelFamily;
  file: string;
  sha256?: string;
  inputSize: [number, number];
  labels: string[];
  normalisation: Normalisation;
  scoreThreshold: number;
  overlapThreshold: number;
  maxDetections: number;
  resize: 'letterbox' | 'stretch';
  padValue: number;
  nms: 'hard' | 'weighted';
  classAgnostic: boolean;
  default: boolean;
  nanodet: { regMax: number; strides: number[] };
  blazeface: { layers: { grid: number; anchors: number }[] };
  yolo: { version: 'auto' | 'v5' | 'v8' | 'v11' };
  classifier: { activation: Activation; cropPadding: number };
}

const FAMILIES: readonly ModelFamily[] = ['blazeface', 'nanodet', 'yolo'];
const KINDS: readonly ModelKind[] = ['detector', 'classifier'];

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(source: string, msg: string): never {
  throw new AppError('VALIDATION_FAILED', `Invalid model manifest ${source}: ${msg}`);
}

function num(o: Json, key: string, source: string, dflt?: number, min = -Infinity, max = Infinity): number {
  const v = o[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) fail(source, `"${key}" must be a number in [${min}, ${max}]`);
  return v;
}

function oneOf<T extends string>(o: Json, key: string, allowed: readonly T[], source: string, dflt?: T): T {
  const v = o[key] ?? dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) fail(source, `"${key}" must be one of ${allowed.join(', ')}`);
  return v as T;
}

function triple(v: unknown, key: string, source: string, dflt: [number, number, number]): [number, number, number] {
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) fail(source, `"${key}" must be 3 numbers`);
  return [v[0] as number, v[1] as number, v[2] as number];
}

function positiveInts(v: unknown, key: string, source: string): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isInteger(x) && (x as number) > 0)) fail(source, `"${key}" must be positive integers`);
  return v as number[];
}

/** Validates a parsed manifest; `source` names it in error messages. Throws AppError('VALIDATION_FAILED'). */
export function parseManifest(raw: unknown, source: string): ModelManifest {
  if (!isObj(raw)) fail(source, 'not a JSON object');
  const name = raw.name;
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(name)) fail(source, '"name" must be 1-64 letters, digits, ".", "_" or "-"');
  const kind = oneOf(raw, 'kind', KINDS, source, 'detector');
  const family: ModelFamily = kind === 'classifier' ? 'classifier' : oneOf(raw, 'family', FAMILIES, source);
  const file = raw.file;
  if (typeof file !== 'string' || !file.endsWith('.onnx') || file.includes('/') || file.includes('\\')) fail(source, '"file" must be a .onnx file name in the models folder');
  const sha256 = raw.sha256;
  if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))) fail(source, '"sha256" must be 64 hex digits');
  const size = positiveInts(raw.inputSize, 'inputSize', source);
  if (size.length !== 2) fail(source, '"inputSize" must be [width, height]');
  let labels: string[];
  if (raw.labels === 'coco80') labels = [...COCO80];
  else if (Array.isArray(raw.labels) && raw.labels.length > 0 && raw.labels.every((l) => typeof l === 'string')) labels = raw.labels;
  else fail(source, '"labels" must be a non-empty array of strings or "coco80"');
  const n = isObj(raw.normalisation) ? raw.normalisation : raw.normalisation === undefined ? {} : fail(source, '"normalisation" must be an object');
  const normalisation: Normalisation = {
    mean: triple(n.mean, 'normalisation.mean', source, [0, 0, 0]),
    std: triple(n.std, 'normalisation.std', source, [1, 1, 1]),
    channelOrder: oneOf(n, 'channelOrder', ['RGB', 'BGR', 'GRAY'] as const, source, 'RGB'),
    layout: oneOf(n, 'layout', ['NCHW', 'NHWC'] as const, source, 'NCHW'),
  };
  if (normalisation.std.some((s) => s === 0)) fail(source, '"normalisation.std" must not contain 0');
  if (normalisation.channelOrder === 'GRAY' && kind !== 'classifier') fail(source, '"normalisation.channelOrder" GRAY is for classifiers');
  const cl = isObj(raw.classifier) ? raw.classifier : {};
  const nd = isObj(raw.nanodet) ? raw.nanodet : {};
  const bf = isObj(raw.blazeface) ? raw.blazeface : {};
  const yo = isObj(raw.yolo) ? raw.yolo : {};
  const layers = bf.layers ?? [
    { grid: 16, anchors: 2 },
    { grid: 8, anchors: 6 },
  ];
  if (!Array.isArray(layers) || !layers.every((l) => isObj(l) && Number.isInteger(l.grid) && Number.isInteger(l.anchors))) fail(source, '"blazeface.layers" must be [{grid, anchors}]');
  if (raw.default !== undefined && typeof raw.default !== 'boolean') fail(source, '"default" must be true or false');
  return {
    name,
    kind,
    family,
    file,
    ...(sha256 ? { sha256 } : {}),
    inputSize: [size[0] ?? 0, size[1] ?? 0],
    labels,
    normalisation,
    scoreThreshold: num(raw, 'scoreThreshold', source, 0.25, 0, 1),
    overlapThreshold: num(raw, 'overlapThreshold', source, 0.45, 0, 1),
    maxDetections: num(raw, 'maxDetections', source, 100, 1, 10000),
    resize: oneOf(raw, 'resize', ['letterbox', 'stretch'] as const, source, kind === 'classifier' ? 'stretch' : 'letterbox'),
    padValue: num(raw, 'padValue', source, 114, 0, 255),
    nms: oneOf(raw, 'nms', ['hard', 'weighted'] as const, source, 'hard'),
    classAgnostic: raw.classAgnostic === true,
    default: raw.default === true,
    nanodet: {
      regMax: num(nd, 'regMax', source, 10, 1, 64),
      strides: nd.strides === undefined ? [8, 16, 32] : positiveInts(nd.strides, 'nanodet.strides', source),
    },
    blazeface: { layers: layers as { grid: number; anchors: number }[] },
    yolo: { version: oneOf(yo, 'version', ['auto', 'v5', 'v8', 'v11'] as const, source, 'auto') },
    classifier: {
      activation: oneOf(cl, 'activation', ['softmax', 'sigmoid', 'none'] as const, source, 'softmax'),
      cropPadding: num(cl, 'cropPadding', source, 0.1, 0, 1),
    },
  };
}
