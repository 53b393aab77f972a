/**
 * A few helpers around `onnx-proto` for writing ONNX ModelProtos by hand: the NanoDet converter and
 * the tests' tiny synthetic models both use them.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

export const DataType = { FLOAT: 1, INT32: 6, INT64: 7 } as const;
const AttrType = onnx.AttributeProto.AttributeType;

export type AttrValue = number | string | number[] | { floats: number[] } | { int: number };

/** Integers become INT/INTS, `{floats}` FLOATS, non-integer numbers FLOAT, strings STRING. */
export function attr(name: string, value: AttrValue): AttributeProto {
  if (typeof value === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value) && !Object.is(value, -0)
      ? { name, type: AttrType.INT, i: value }
      : { name, type: AttrType.FLOAT, f: value };
  }
  if (Array.isArray(value)) return { name, type: AttrType.INTS, ints: value };
  if ('floats' in value) return { name, type: AttrType.FLOATS, floats: value.floats };
  return { name, type: AttrType.INT, i: value.int };
}

/** A FLOAT attribute even for integral values (e.g. LeakyRelu alpha = 1). */
export const floatAttr = (name: string, f: number): AttributeProto => ({ name, type: AttrType.FLOAT, f });

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrValue> = {},
  name = outputs[0] ?? opType,
): NodeProto {
  return { opType, name, input: inputs, output: outputs, attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) };
}

export function floatTensor(name: string, dims: number[], data: ArrayLike<number>): TensorProto {
  const f = Float32Array.from(data);
  return { name, dims, dataType: DataType.FLOAT, rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
}

export function int64Tensor(name: string, dims: number[], data: ArrayLike<number>): TensorProto {
  const b = BigInt64Array.from(Array.from(data, (v) => BigInt(v)));
  return { name, dims, dataType: DataType.INT64, rawData: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) };
}

/** A tensor value-info; a string dimension is symbolic (dynamic). */
export function valueInfo(name: string, dims: (number | string)[], elemType: number = DataType.FLOAT): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

export interface GraphSpec {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  opset?: number;
  producer?: string;
  docString?: string;
}

/** Serialises a model (IR version 8, default domain at `opset`, 18 unless told). */
export function encodeModel(spec: GraphSpec): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: spec.producer ?? 'lookout',
    docString: spec.docString ?? '',
    opsetImport: [{ domain: '', version: spec.opset ?? 18 }],
    graph: {
      name: spec.name,
      node: spec.nodes,
      initializer: spec.initializers,
      input: spec.inputs,
      output: spec.outputs,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
