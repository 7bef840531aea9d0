import { onnx } from 'onnx-proto';
import type { ConstTensor, TfAttr, TfGraph, TfNode } from './tfjs-graph';

export const ONNX_OPSET = 17;
const IR_VERSION = 8;

/**
 * How a converted activation is laid out. TFJS graphs are NHWC; every rank-4 activation
 * is kept NCHW in ONNX ('nchw') so convolutions run natively, and tensors of other ranks
 * keep their TF layout ('tf'). Transposes are inserted only where an op needs the other one.
 */
type Layout = 'nchw' | 'tf';

interface Value {
  name: string;
  rank: number;
  layout: Layout;
  constant?: ConstTensor;
}

export interface ConvertOptions {
  graphName: string;
  /** ONNX names for the graph outputs, keyed by the TF signature key; unnamed outputs keep a sanitised TF name. */
  outputNames?: Record<string, string>;
  /** ONNX name for the graph input; defaults to a sanitised TF name. */
  inputName?: string;
}

export class UnsupportedGraphError extends Error {}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
/** Where a TF (NHWC) axis lands in NCHW. */
const NCHW_AXIS_OF_NHWC = [0, 2, 3, 1];

const BINARY_OPS: Record<string, string> = {
  Add: 'Add',
  AddV2: 'Add',
  Sub: 'Sub',
  Mul: 'Mul',
  Minimum: 'Min',
  Maximum: 'Max',
};
const UNARY_OPS: Record<string, string> = { Relu: 'Relu', Sigmoid: 'Sigmoid' };

function decodeString(attr: TfAttr | undefined): string | undefined {
  return attr?.s === undefined ? undefined : Buffer.from(attr.s, 'base64').toString('utf8');
}

function intList(attr: TfAttr | undefined): number[] {
  return (attr?.list?.i ?? []).map(Number);
}

function fusedOps(node: TfNode): string[] {
  return (node.attr.fused_ops?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
}

function sanitize(name: string): string {
  return name.replace(/:0$/, '').replace(/[^A-Za-z0-9_]/g, '_');
}

function floatTensor(name: string, dims: number[], data: Float32Array): onnx.ITensorProto {
  return {
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  };
}

function int64Tensor(name: string, values: number[]): onnx.ITensorProto {
  const raw = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => raw.writeBigInt64LE(BigInt(v), i * 8));
  return { name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: raw };
}

/** Returns `data` (row-major, of `shape`) with its axes permuted by `perm`. */
export function permute(data: Float32Array, shape: number[], perm: number[]): { data: Float32Array; shape: number[] } {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * shape[i + 1];
  const out = new Float32Array(data.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let source = 0;
    for (let d = 0; d < rank; d++) source += index[d] * inStrides[perm[d]];
    out[o] = data[source];
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < outShape[d]) break;
      index[d] = 0;
    }
  }
  return { data: out, shape: outShape };
}

class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly transposed = new Map<string, Value>();

  unique(base: string): string {
    let name = sanitize(base);
    for (let i = 1; this.used.has(name); i++) name = `${sanitize(base)}_${i}`;
    this.used.add(name);
    return name;
  }

  node(opType: string, inputs: string[], outputBase: string, attribute: onnx.IAttributeProto[] = []): string {
    const output = this.unique(outputBase);
    this.nodes.push({ opType, input: inputs, output: [output], name: output, attribute });
    return output;
  }

  floatInitializer(base: string, dims: number[], data: Float32Array): string {
    const name = this.unique(base);
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  int64Initializer(base: string, values: number[]): string {
    const name = this.unique(base);
    this.initializers.push(int64Tensor(name, values));
    return name;
  }

  /** A rank-4 value in the requested layout, transposing (once per value) if needed. */
  inLayout(value: Value, layout: Layout): Value {
    if (value.rank !== 4 || value.layout === layout) return value;
    const key = `${value.name}->${layout}`;
    const cached = this.transposed.get(key);
    if (cached) return cached;
    const perm = layout === 'nchw' ? NHWC_TO_NCHW : NCHW_TO_NHWC;
    const name = this.node('Transpose', [value.name], `${value.name}_${layout}`, [ints('perm', perm)]);
    const result = { name, rank: 4, layout };
    this.transposed.set(key, result);
    return result;
  }
}

function ints(name: string, values: number[]): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}
function int(name: string, value: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}
function str(name: string, value: string): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from(value, 'utf8') };
}

function fail(node: TfNode, reason: string): never {
  throw new UnsupportedGraphError(`node "${node.name}" (op ${node.op}): ${reason}`);
}

function requireNhwc(node: TfNode): void {
  const format = decodeString(node.attr.data_format) ?? 'NHWC';
  if (format !== 'NHWC') fail(node, `data_format ${format} is not supported`);
}

/** ONNX padding attributes for a TF `padding` (SAME, VALID or EXPLICIT) of a 2-D window op. */
function paddingAttributes(node: TfNode): onnx.IAttributeProto[] {
  const padding = decodeString(node.attr.padding);
  if (padding === 'SAME') return [str('auto_pad', 'SAME_UPPER')];
  if (padding === 'VALID') return [str('auto_pad', 'VALID')];
  if (padding === 'EXPLICIT') {
    const p = intList(node.attr.explicit_paddings);
    return [ints('pads', [p[2], p[4], p[3], p[5]])];
  }
  return fail(node, `padding ${padding} is not supported`);
}

/** Spatial part of an NHWC `[1, h, w, 1]` attribute list. */
function spatial(node: TfNode, key: string): number[] {
  const list = intList(node.attr[key]);
  if (list.length === 0) return [1, 1];
  if (list.length !== 4 || list[0] !== 1 || list[3] !== 1) fail(node, `${key} ${list.join(',')} is not spatial-only`);
  return [list[1], list[2]];
}

/** Reshapes a TF constant so that it broadcasts against an NCHW activation as it did against the NHWC one. */
function constantForNchw(constant: ConstTensor): { dims: number[]; data: Float32Array } {
  const data = Float32Array.from(constant.data);
  if (constant.shape.length === 0) return { dims: [], data };
  if (constant.shape.length > 4) throw new UnsupportedGraphError(`constant of rank ${constant.shape.length} cannot broadcast against a rank-4 activation`);
  const padded = [...new Array<number>(4 - constant.shape.length).fill(1), ...constant.shape];
  const permuted = permute(data, padded, NHWC_TO_NCHW);
  return { dims: permuted.shape, data: permuted.data };
}

/** Converts a TFJS graph read by `readTfjsGraph` into a serialised ONNX model. */
export function convertTfjsGraph(graph: TfGraph, options: ConvertOptions): Uint8Array {
  const builder = new GraphBuilder();
  // Graph outputs keep exactly the requested names, so they are reserved before any node is named.
  const outputNames = graph.outputs.map((output) => builder.unique(options.outputNames?.[output.key] ?? output.key));
  const values = new Map<string, Value>();
  const graphInputs: onnx.IValueInfoProto[] = [];
  let dynamicBatch = false;

  const valueOf = (node: TfNode, inputName: string): Value => {
    const value = values.get(inputName);
    if (!value) fail(node, `input "${inputName}" is not produced by any supported node`);
    return value;
  };
  const constantOf = (node: TfNode, inputName: string): ConstTensor => {
    const constant = valueOf(node, inputName).constant;
    if (!constant) fail(node, `input "${inputName}" must be a constant`);
    return constant;
  };
  /** A constant as a plain initializer in its TF shape. */
  const materialize = (value: Value, base: string): Value => {
    if (!value.constant || value.name) return value;
    const name = builder.floatInitializer(base, value.constant.shape, Float32Array.from(value.constant.data));
    return { ...value, name };
  };

  const convertConv = (node: TfNode, depthwise: boolean) => {
    requireNhwc(node);
    const x = builder.inLayout(valueOf(node, node.inputs[0]), 'nchw');
    const filter = constantOf(node, node.inputs[1]);
    const [kh, kw, inChannels, multiplier] = filter.shape;
    let weights: { data: Float32Array; shape: number[] };
    if (depthwise) {
      // [kh, kw, C, M] -> [C*M, 1, kh, kw]: output channel c*M+m of a group conv with C groups.
      const p = permute(Float32Array.from(filter.data), filter.shape, [2, 3, 0, 1]);
      weights = { data: p.data, shape: [inChannels * multiplier, 1, kh, kw] };
    } else {
      weights = permute(Float32Array.from(filter.data), filter.shape, [3, 2, 0, 1]);
    }
    const ops = fusedOps(node);
    const inputs = [x.name, builder.floatInitializer(`${node.name}_weights`, weights.shape, weights.data)];
    if (ops[0] === 'BiasAdd') {
      const bias = constantOf(node, node.inputs[2]);
      inputs.push(builder.floatInitializer(`${node.name}_bias`, bias.shape, Float32Array.from(bias.data)));
    } else if (ops.length > 0) {
      fail(node, `fused ops ${ops.join(',')} are not supported`);
    }
    const attributes = [
      ints('kernel_shape', [kh, kw]),
      ints('strides', spatial(node, 'strides')),
      ints('dilations', spatial(node, 'dilations')),
      ...paddingAttributes(node),
    ];
    if (depthwise) attributes.push(int('group', inChannels));
    const activation = ops[1];
    let output = builder.node('Conv', inputs, activation ? `${node.name}_conv` : node.name, attributes);
    if (activation === 'Relu') output = builder.node('Relu', [output], node.name);
    else if (activation === 'Prelu') {
      const alpha = constantForNchw(constantOf(node, node.inputs[3]));
      output = builder.node('PRelu', [output, builder.floatInitializer(`${node.name}_alpha`, alpha.dims, alpha.data)], node.name);
    } else if (activation !== undefined) fail(node, `fused activation ${activation} is not supported`);
    if (ops.length > 2) fail(node, `fused ops ${ops.join(',')} are not supported`);
    values.set(node.name, { name: output, rank: 4, layout: 'nchw' });
  };

  const convertMatMul = (node: TfNode) => {
    const a = materialize(valueOf(node, node.inputs[0]), `${node.name}_a`);
    const bValue = valueOf(node, node.inputs[1]);
    if (a.rank !== 2 || bValue.rank !== 2) fail(node, 'only rank-2 operands are supported');
    const b = materialize(bValue, `${node.name}_b`);
    const attributes = [
      int('transA', node.attr.transpose_a?.b ? 1 : 0),
      int('transB', node.attr.transpose_b?.b ? 1 : 0),
    ];
    const ops = fusedOps(node);
    const inputs = [a.name, b.name];
    if (ops[0] === 'BiasAdd') {
      const bias = constantOf(node, node.inputs[2]);
      inputs.push(builder.floatInitializer(`${node.name}_bias`, bias.shape, Float32Array.from(bias.data)));
    } else if (ops.length > 0) fail(node, `fused ops ${ops.join(',')} are not supported`);
    const activation = ops[1];
    if (ops.length > 2 || (activation !== undefined && activation !== 'Relu')) fail(node, `fused ops ${ops.join(',')} are not supported`);
    let output = builder.node('Gemm', inputs, activation ? `${node.name}_gemm` : node.name, attributes);
    if (activation === 'Relu') output = builder.node('Relu', [output], node.name);
    values.set(node.name, { name: output, rank: 2, layout: 'tf' });
  };

  const convertBinary = (node: TfNode, opType: string) => {
    const operands = node.inputs.map((i) => valueOf(node, i));
    if (operands.length !== 2) fail(node, `expected 2 inputs, got ${operands.length}`);
    const activations = operands.filter((v) => !v.constant);
    if (activations.length === 0) fail(node, 'both operands are constants');
    const rank = Math.max(...operands.map((v) => (v.constant ? v.constant.shape.length : v.rank)));
    const nchw = rank === 4 && activations.every((v) => v.rank === 4);
    const layout: Layout = nchw ? 'nchw' : 'tf';
    const inputs = operands.map((v, i) => {
      if (!v.constant) return builder.inLayout(v, layout).name;
      if (!nchw) return materialize(v, `${node.name}_operand${i}`).name;
      const c = constantForNchw(v.constant);
      return builder.floatInitializer(`${node.name}_operand${i}`, c.dims, c.data);
    });
    values.set(node.name, { name: builder.node(opType, inputs, node.name), rank, layout });
  };

  const convertPrelu = (node: TfNode) => {
    const x = valueOf(node, node.inputs[0]);
    const alphaConst = constantOf(node, node.inputs[1]);
    const alpha = x.layout === 'nchw' && x.rank === 4
      ? constantForNchw(alphaConst)
      : { dims: alphaConst.shape, data: Float32Array.from(alphaConst.data) };
    const slope = builder.floatInitializer(`${node.name}_alpha`, alpha.dims, alpha.data);
    values.set(node.name, { ...x, name: builder.node('PRelu', [x.name, slope], node.name) });
  };

  const convertMaxPool = (node: TfNode) => {
    requireNhwc(node);
    const x = builder.inLayout(valueOf(node, node.inputs[0]), 'nchw');
    const output = builder.node('MaxPool', [x.name], node.name, [
      ints('kernel_shape', spatial(node, 'ksize')),
      ints('strides', spatial(node, 'strides')),
      ...paddingAttributes(node),
    ]);
    values.set(node.name, { name: output, rank: 4, layout: 'nchw' });
  };

  const convertPad = (node: TfNode) => {
    const x = valueOf(node, node.inputs[0]);
    const paddings = Array.from(constantOf(node, node.inputs[1]).data);
    const rows = Array.from({ length: x.rank }, (_, i) => [paddings[2 * i], paddings[2 * i + 1]]);
    const ordered = x.rank === 4 && x.layout === 'nchw' ? NHWC_TO_NCHW.map((p) => rows[p]) : rows;
    const pads = builder.int64Initializer(`${node.name}_pads`, [...ordered.map((r) => r[0]), ...ordered.map((r) => r[1])]);
    values.set(node.name, { ...x, name: builder.node('Pad', [x.name, pads], node.name, [str('mode', 'constant')]) });
  };

  const convertReshape = (node: TfNode) => {
    const x = builder.inLayout(valueOf(node, node.inputs[0]), 'tf');
    const shape = Array.from(constantOf(node, node.inputs[1]).data);
    if (shape.includes(0)) fail(node, 'a zero-sized target dimension is not supported');
    const output = builder.node('Reshape', [x.name, builder.int64Initializer(`${node.name}_shape`, shape)], node.name);
    values.set(node.name, { name: output, rank: shape.length, layout: 'tf' });
  };

  const convertConcat = (node: TfNode) => {
    const operands = node.inputs.slice(0, -1).map((i) => valueOf(node, i));
    const axisConst = constantOf(node, node.inputs[node.inputs.length - 1]).data[0];
    const rank = operands[0].rank;
    if (operands.some((v) => v.constant || v.rank !== rank)) fail(node, 'operands must be activations of one rank');
    const axis = axisConst < 0 ? axisConst + rank : axisConst;
    const layout: Layout = rank === 4 && operands.every((v) => v.layout === 'nchw') ? 'nchw' : 'tf';
    const inputs = operands.map((v) => builder.inLayout(v, layout).name);
    const onnxAxis = layout === 'nchw' ? NCHW_AXIS_OF_NHWC[axis] : axis;
    values.set(node.name, { name: builder.node('Concat', inputs, node.name, [int('axis', onnxAxis)]), rank, layout });
  };

  const convertMean = (node: TfNode) => {
    let x = valueOf(node, node.inputs[0]);
    const axes = Array.from(constantOf(node, node.inputs[1]).data).map((a) => (a < 0 ? a + x.rank : a));
    const keepDims = node.attr.keep_dims?.b === true;
    const spatialOnly = axes.length === 2 && axes.includes(1) && axes.includes(2);
    if (x.rank === 4 && x.layout === 'nchw' && !keepDims && !spatialOnly) x = builder.inLayout(x, 'tf');
    const onnxAxes = x.rank === 4 && x.layout === 'nchw' ? axes.map((a) => NCHW_AXIS_OF_NHWC[a]) : axes;
    const rank = keepDims ? x.rank : x.rank - axes.length;
    const layout: Layout = rank === 4 ? x.layout : 'tf';
    const output = builder.node('ReduceMean', [x.name], node.name, [ints('axes', onnxAxes), int('keepdims', keepDims ? 1 : 0)]);
    values.set(node.name, { name: output, rank, layout });
  };

  const convertSoftmax = (node: TfNode) => {
    const x = valueOf(node, node.inputs[0]);
    const axis = x.rank === 4 && x.layout === 'nchw' ? 1 : -1;
    values.set(node.name, { ...x, name: builder.node('Softmax', [x.name], node.name, [int('axis', axis)]) });
  };

  for (const node of graph.nodes) {
    switch (node.op) {
      case 'Const': {
        const constant = graph.consts.get(node.name);
        if (!constant) fail(node, 'constant has no data in the weights manifest');
        values.set(node.name, { name: '', rank: constant.shape.length, layout: 'tf', constant });
        break;
      }
      case 'Placeholder': {
        const declared = graph.inputs.find((i) => i.node === node.name);
        const shape = declared?.shape.length ? declared.shape : (node.attr.shape?.shape?.dim ?? []).map((d) => Number(d.size));
        if (shape.length !== 4) fail(node, `input of rank ${shape.length} is not supported`);
        const name = builder.unique(options.inputName ?? node.name);
        const nchwShape = NHWC_TO_NCHW.map((p) => shape[p]);
        graphInputs.push(valueInfo(name, nchwShape));
        dynamicBatch = shape[0] < 0;
        values.set(node.name, { name, rank: 4, layout: 'nchw' });
        break;
      }
      case 'Conv2D':
      case '_FusedConv2D':
        convertConv(node, false);
        break;
      case 'DepthwiseConv2dNative':
        convertConv(node, true);
        break;
      case 'MatMul':
      case '_FusedMatMul':
        convertMatMul(node);
        break;
      case 'Prelu':
        convertPrelu(node);
        break;
      case 'MaxPool':
        convertMaxPool(node);
        break;
      case 'Pad':
        convertPad(node);
        break;
      case 'Reshape':
        convertReshape(node);
        break;
      case 'ConcatV2':
        convertConcat(node);
        break;
      case 'Mean':
        convertMean(node);
        break;
      case 'Softmax':
        convertSoftmax(node);
        break;
      case 'Identity':
        values.set(node.name, valueOf(node, node.inputs[0]));
        break;
      default:
        if (node.op in BINARY_OPS) convertBinary(node, BINARY_OPS[node.op]);
        else if (node.op in UNARY_OPS) {
          const x = valueOf(node, node.inputs[0]);
          values.set(node.name, { ...x, name: builder.node(UNARY_OPS[node.op], [x.name], node.name) });
        } else fail(node, 'op is not supported');
    }
  }

  const graphOutputs = graph.outputs.map((output, i) => {
    const value = values.get(output.node);
    if (!value) throw new UnsupportedGraphError(`output "${output.key}" (node ${output.node}) was not produced`);
    const tf = builder.inLayout(value, 'tf');
    const name = outputNames[i];
    builder.nodes.push({ opType: 'Identity', input: [tf.name], output: [name], name });
    const shape = output.shape.length === value.rank ? [...output.shape] : new Array<number>(value.rank).fill(-1);
    if (dynamicBatch) shape[0] = -1;
    return valueInfo(name, shape);
  });

  const nodes = clampsAsClip(builder);
  const referenced = new Set(nodes.flatMap((node) => node.input ?? []));
  const model: onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'facegate-tfjs-converter',
    graph: {
      name: options.graphName,
      node: nodes,
      initializer: builder.initializers.filter((t) => referenced.has(t.name ?? '')),
      input: graphInputs,
      output: graphOutputs,
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** The value of a scalar float initializer, or undefined if `name` is not one. */
function scalarInitializer(builder: GraphBuilder, name: string): number | undefined {
  const tensor = builder.initializers.find((t) => t.name === name);
  if (!tensor || (tensor.dims ?? []).length > 0 || tensor.dataType !== onnx.TensorProto.DataType.FLOAT || !tensor.rawData) return undefined;
  return new DataView(tensor.rawData.buffer, tensor.rawData.byteOffset, 4).getFloat32(0, true);
}

/**
 * TF writes relu6 as Relu, then Minimum and Maximum by scalars. ONNX Runtime fuses a Clip into the
 * convolution before it, and Min/Max it cannot: they would cost two passes over the activation and
 * break its blocked (NCHWc) layout into a reorder on each side (docs/performance.md). So
 * Max(Min(x, hi), lo) and Min(Max(x, lo), hi) become Clip(x, lo, hi), the same values for lo <= hi,
 * and a Relu feeding only such a Clip with lo >= 0 is dropped, as it changes nothing.
 */
function clampsAsClip(builder: GraphBuilder): onnx.INodeProto[] {
  const nodes = builder.nodes;
  const consumers = new Map<string, number>();
  for (const node of nodes) for (const input of node.input ?? []) consumers.set(input, (consumers.get(input) ?? 0) + 1);
  const producer = new Map(nodes.map((node) => [node.output?.[0] ?? '', node]));
  const dropped = new Set<onnx.INodeProto>();
  const bounds = new Map<onnx.INodeProto, { input: string; lo: number; hi: number }>();
  for (const outer of nodes) {
    if (outer.opType !== 'Max' && outer.opType !== 'Min') continue;
    const [innerOutput, outerBound] = outer.input ?? [];
    const inner = producer.get(innerOutput);
    const innerType = outer.opType === 'Max' ? 'Min' : 'Max';
    if (!inner || inner.opType !== innerType || consumers.get(innerOutput) !== 1 || dropped.has(inner) || bounds.has(inner)) continue;
    const outerValue = scalarInitializer(builder, outerBound);
    const innerValue = scalarInitializer(builder, inner.input?.[1] ?? '');
    if (outerValue === undefined || innerValue === undefined) continue;
    const [lo, hi] = outer.opType === 'Max' ? [outerValue, innerValue] : [innerValue, outerValue];
    if (lo > hi) continue;
    let input = inner.input?.[0] ?? '';
    const relu = producer.get(input);
    if (relu?.opType === 'Relu' && lo >= 0 && consumers.get(input) === 1) {
      dropped.add(relu);
      input = relu.input?.[0] ?? '';
    }
    dropped.add(inner);
    bounds.set(outer, { input, lo, hi });
  }
  return nodes
    .filter((node) => !dropped.has(node))
    .map((node) => {
      const clamp = bounds.get(node);
      if (!clamp) return node;
      const name = node.output?.[0] ?? '';
      return {
        opType: 'Clip',
        input: [clamp.input, builder.floatInitializer(`${name}_lo`, [], Float32Array.of(clamp.lo)), builder.floatInitializer(`${name}_hi`, [], Float32Array.of(clamp.hi))],
        output: [name],
        name,
      };
    });
}

function valueInfo(name: string, dims: number[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d, i) => (d >= 0 ? { dimValue: d } : { dimParam: i === 0 ? 'batch' : `d${i}` })) },
      },
    },
  };
}
