import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A constant tensor read from a TFJS weights manifest, dequantised to float32 where needed. */
export interface ConstTensor {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface TfAttr {
  s?: string;
  i?: string;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { i?: string[]; s?: string[]; f?: number[] };
  shape?: { dim?: { size: string }[] };
  tensor?: unknown;
}

export interface TfNode {
  name: string;
  op: string;
  /** Data inputs as node names; control inputs (`^name`) are dropped. */
  inputs: string[];
  attr: Record<string, TfAttr>;
}

export interface TfSignatureTensor {
  /** The signature's key, e.g. `output_mesh`. */
  key: string;
  /** The graph node that produces the tensor. */
  node: string;
  /** Shape as declared by the signature; -1 for a dynamic dimension, empty when not declared. */
  shape: number[];
}

export interface TfGraph {
  nodes: TfNode[];
  consts: Map<string, ConstTensor>;
  inputs: TfSignatureTensor[];
  outputs: TfSignatureTensor[];
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}

interface ModelJson {
  format?: string;
  modelTopology: { node: { name: string; op: string; input?: string[]; attr?: Record<string, TfAttr> }[] };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
  signature?: Signature;
  userDefinedMetadata?: { signature?: Signature };
}

interface Signature {
  inputs?: Record<string, { name: string; tensorShape?: { dim?: { size: string }[] } }>;
  outputs?: Record<string, { name: string; tensorShape?: { dim?: { size: string }[] } }>;
}

/** Decodes one IEEE 754 half-precision value. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function decodeWeight(spec: WeightSpec, bytes: Buffer): ConstTensor {
  const count = elementCount(spec.shape);
  if (spec.quantization) {
    if (spec.quantization.dtype !== 'float16' || spec.dtype !== 'float32') {
      throw new Error(`weight ${spec.name}: unsupported quantization ${spec.quantization.dtype} of ${spec.dtype}`);
    }
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = halfToFloat(bytes.readUInt16LE(i * 2));
    return { dtype: 'float32', shape: spec.shape, data };
  }
  if (spec.dtype === 'float32') {
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(i * 4);
    return { dtype: 'float32', shape: spec.shape, data };
  }
  if (spec.dtype === 'int32') {
    const data = new Int32Array(count);
    for (let i = 0; i < count; i++) data[i] = bytes.readInt32LE(i * 4);
    return { dtype: 'int32', shape: spec.shape, data };
  }
  throw new Error(`weight ${spec.name}: unsupported dtype ${spec.dtype}`);
}

function bytesPerElement(spec: WeightSpec): number {
  if (spec.quantization?.dtype === 'float16') return 2;
  if (spec.quantization) throw new Error(`weight ${spec.name}: unsupported quantization ${spec.quantization.dtype}`);
  if (spec.dtype === 'float32' || spec.dtype === 'int32') return 4;
  throw new Error(`weight ${spec.name}: unsupported dtype ${spec.dtype}`);
}

function signatureTensors(entries: Signature['inputs']): TfSignatureTensor[] {
  return Object.entries(entries ?? {}).map(([key, value]) => ({
    key,
    node: value.name.replace(/:0$/, ''),
    shape: (value.tensorShape?.dim ?? []).map((d) => Number(d.size)),
  }));
}

function dataInput(nodeName: string, input: string): string {
  const match = /^([^:]+)(?::(\d+))?$/.exec(input);
  if (!match) throw new Error(`node ${nodeName}: cannot parse input "${input}"`);
  if (match[2] !== undefined && match[2] !== '0') {
    throw new Error(`node ${nodeName}: input "${input}" uses output ${match[2]}; only single-output producers are supported`);
  }
  return match[1];
}

/** Reads a TFJS graph model (model.json plus its weight shards) into memory. */
export function readTfjsGraph(modelJsonPath: string): TfGraph {
  const model = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as ModelJson;
  if (model.format !== undefined && model.format !== 'graph-model') {
    throw new Error(`${modelJsonPath}: format "${model.format}" is not a TFJS graph model`);
  }
  const consts = new Map<string, ConstTensor>();
  for (const group of model.weightsManifest) {
    const shard = Buffer.concat(group.paths.map((p) => readFileSync(join(dirname(modelJsonPath), p))));
    let offset = 0;
    for (const spec of group.weights) {
      const size = elementCount(spec.shape) * bytesPerElement(spec);
      if (offset + size > shard.length) throw new Error(`weight ${spec.name}: shard ends before its data`);
      consts.set(spec.name, decodeWeight(spec, shard.subarray(offset, offset + size)));
      offset += size;
    }
    if (offset !== shard.length) throw new Error(`${group.paths.join(',')}: ${shard.length - offset} unread bytes after the weights`);
  }
  const nodes: TfNode[] = model.modelTopology.node.map((n) => ({
    name: n.name,
    op: n.op,
    inputs: (n.input ?? []).filter((i) => !i.startsWith('^')).map((i) => dataInput(n.name, i)),
    attr: n.attr ?? {},
  }));
  const signature = model.signature ?? model.userDefinedMetadata?.signature ?? {};
  const inputs = signatureTensors(signature.inputs);
  if (inputs.length === 0) {
    for (const node of nodes.filter((n) => n.op === 'Placeholder')) {
      inputs.push({ key: node.name, node: node.name, shape: (node.attr.shape?.shape?.dim ?? []).map((d) => Number(d.size)) });
    }
  }
  return { nodes, consts, inputs, outputs: signatureTensors(signature.outputs) };
}
