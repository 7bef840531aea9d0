import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { convertTfjsGraph, permute, UnsupportedGraphError } from '../../src/models/onnx-converter';
import { halfToFloat, readTfjsGraph } from '../../src/models/tfjs-graph';
import { seededRandom } from '../helpers/random';

/** Builds a TFJS graph-model folder (model.json + one weight shard) from nodes and float32/int32 constants. */
class GraphModelBuilder {
  private readonly nodes: object[] = [];
  private readonly weights: { name: string; shape: number[]; dtype: string; quantization?: { dtype: string } }[] = [];
  private readonly chunks: Buffer[] = [];
  private readonly random = seededRandom(42);

  input(name: string, shape: number[]): string {
    this.nodes.push({ name, op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: shape.map((s) => ({ size: String(s) })) } } } });
    return name;
  }

  /** A float constant of seeded values in [-1, 1], stored as float16 when `half`. */
  floats(name: string, shape: number[], half = false): string {
    const count = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: count }, () => this.random() * 2 - 1);
    if (half) {
      const buffer = Buffer.alloc(count * 2);
      values.forEach((v, i) => buffer.writeUInt16LE(toHalf(v), i * 2));
      this.chunks.push(buffer);
      this.weights.push({ name, shape, dtype: 'float32', quantization: { dtype: 'float16' } });
    } else {
      this.chunks.push(Buffer.from(Float32Array.from(values).buffer));
      this.weights.push({ name, shape, dtype: 'float32' });
    }
    return this.constNode(name, 'DT_FLOAT', shape);
  }

  /** A float32 constant holding exactly `values`. */
  fixed(name: string, values: number[], shape = [values.length]): string {
    this.chunks.push(Buffer.from(Float32Array.from(values).buffer));
    this.weights.push({ name, shape, dtype: 'float32' });
    return this.constNode(name, 'DT_FLOAT', shape);
  }

  ints(name: string, values: number[], shape = [values.length]): string {
    this.chunks.push(Buffer.from(Int32Array.from(values).buffer));
    this.weights.push({ name, shape, dtype: 'int32' });
    return this.constNode(name, 'DT_INT32', shape);
  }

  op(name: string, op: string, input: string[], attr: Record<string, unknown> = {}): string {
    this.nodes.push({ name, op, input, attr: { T: { type: 'DT_FLOAT' }, ...attr } });
    return name;
  }

  write(outputs: string[]): string {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-graph-'));
    const signature = { outputs: Object.fromEntries(outputs.map((o) => [o, { name: `${o}:0` }])) };
    writeFileSync(join(dir, 'weights.bin'), Buffer.concat(this.chunks));
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({ format: 'graph-model', modelTopology: { node: this.nodes, versions: { producer: 1 } }, weightsManifest: [{ paths: ['weights.bin'], weights: this.weights }], signature }),
    );
    return join(dir, 'model.json');
  }

  private constNode(name: string, dtype: string, shape: number[]): string {
    this.nodes.push({ name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: shape.map((s) => ({ size: String(s) })) } } } } });
    return name;
  }
}

function toHalf(value: number): number {
  const f = new Float32Array([value]);
  const bits = new Uint32Array(f.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = (bits >>> 13) & 0x3ff;
  if (exponent <= 0) return sign;
  return sign | (exponent << 10) | mantissa;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const list = (values: number[]) => ({ list: { i: values.map(String) } });
const fused = (ops: string[]) => ({ list: { s: ops.map(b64) } });
const window = (padding: string, strides: number[]) => ({ padding: { s: b64(padding) }, strides: list(strides), data_format: { s: b64('NHWC') } });

async function loadTfjs(path: string): Promise<tf.GraphModel> {
  await tf.setBackend('cpu');
  const json = JSON.parse(readFileSync(path, 'utf8'));
  const weights = readFileSync(join(path, '..', 'weights.bin'));
  return tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      signature: json.signature,
    }),
  );
}

describe('halfToFloat', () => {
  it.each([
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x8000, -0],
    [0x7c00, Infinity],
  ])('decodes bits %i', (bits, expected) => {
    expect(halfToFloat(bits)).toBe(expected);
  });

  it('decodes NaN', () => {
    expect(halfToFloat(0x7e00)).toBeNaN();
  });
});

describe('permute', () => {
  it('reorders a 2x3 matrix into its transpose', () => {
    const result = permute(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0]);
    expect(result.shape).toEqual([3, 2]);
    expect(Array.from(result.data)).toEqual([1, 4, 2, 5, 3, 6]);
  });
});

describe('convertTfjsGraph', () => {
  it('reproduces TFJS on odd shapes through every supported op', async () => {
    const g = new GraphModelBuilder();
    const x = g.input('x', [2, 5, 7, 3]);
    const conv = g.op('conv', '_FusedConv2D', [x, g.floats('w1', [3, 3, 3, 4], true), g.floats('b1', [4]), g.floats('a1', [4])], {
      ...window('SAME', [1, 2, 2, 1]),
      dilations: list([1, 1, 1, 1]),
      fused_ops: fused(['BiasAdd', 'Prelu']),
      num_args: { i: '2' },
    });
    const depthwise = g.op('dw', 'DepthwiseConv2dNative', [conv, g.floats('w2', [3, 3, 4, 2])], { ...window('SAME', [1, 1, 1, 1]), dilations: list([1, 1, 1, 1]) });
    const plain = g.op('conv2', 'Conv2D', [depthwise, g.floats('w3', [1, 1, 8, 8])], { ...window('VALID', [1, 1, 1, 1]), dilations: list([1, 1, 1, 1]) });
    const sum = g.op('add', 'AddV2', [plain, depthwise]);
    const scaled = g.op('mul', 'Mul', [sum, g.floats('scale', [8])]);
    const clipped = g.op('min', 'Minimum', [g.op('max', 'Maximum', [scaled, g.floats('floor', [])]), g.floats('ceiling', [1, 1, 1, 8])]);
    const activated = g.op('relu', 'Relu', [g.op('sub', 'Sub', [clipped, g.floats('shift', [8])])]);
    const pooled = g.op('pool', 'MaxPool', [activated], { ...window('SAME', [1, 2, 2, 1]), ksize: list([1, 3, 3, 1]) });
    const padded = g.op('pad', 'Pad', [pooled, g.ints('paddings', [0, 0, 1, 0, 0, 2, 0, 3], [4, 2])]);
    const prelu = g.op('prelu', 'Prelu', [padded, g.floats('alpha', [1, 1, 11])]);
    const joined = g.op('concat', 'ConcatV2', [prelu, padded, g.ints('axis', [-1])], { N: { i: '2' } });
    const channelSoftmax = g.op('softmax4', 'Softmax', [joined]);
    const flat = g.op('flat', 'Reshape', [channelSoftmax, g.ints('shape', [2, -1])]);
    const mean = g.op('mean', 'Mean', [joined, g.ints('axes', [1, 2])], { keep_dims: { b: false } });
    const keptMean = g.op('mean_kept', 'Mean', [joined, g.ints('axes2', [1, 2])], { keep_dims: { b: true } });
    const dense = g.op('dense', '_FusedMatMul', [mean, g.floats('w4', [22, 5]), g.floats('b4', [5])], {
      transpose_a: { b: false },
      transpose_b: { b: false },
      fused_ops: fused(['BiasAdd', 'Relu']),
      num_args: { i: '1' },
    });
    const probabilities = g.op('probabilities', 'Sigmoid', [g.op('logits', 'MatMul', [dense, g.floats('w5', [5, 3])], { transpose_a: { b: false }, transpose_b: { b: false } })]);
    const last = g.op('softmax', 'Softmax', [probabilities]);
    const outputs = [flat, keptMean, g.op('out', 'Identity', [last])];
    const path = g.write(outputs);

    const graph = readTfjsGraph(path);
    const session = await ort.InferenceSession.create(convertTfjsGraph(graph, { graphName: 'synthetic' }));
    const random = seededRandom(7);
    const input = new Float32Array(2 * 5 * 7 * 3).map(() => random() * 2 - 1);
    const result = await session.run({ x: new ort.Tensor('float32', permute(input, [2, 5, 7, 3], [0, 3, 1, 2]).data, [2, 3, 5, 7]) });

    const model = await loadTfjs(path);
    const expected = model.execute(tf.tensor(input, [2, 5, 7, 3]), outputs) as tf.Tensor[];
    outputs.forEach((name, i) => {
      const actual = result[name];
      expect(actual.dims).toEqual(expected[i].shape);
      const want = expected[i].dataSync() as Float32Array;
      const got = actual.data as Float32Array;
      const maxDiff = want.reduce((m, v, k) => Math.max(m, Math.abs(v - got[k])), 0);
      expect(maxDiff).toBeLessThan(1e-5);
    });
  });

  it('turns relu6 written as Relu, Minimum and Maximum by scalars into one Clip with the same values', async () => {
    const g = new GraphModelBuilder();
    const x = g.input('x', [1, 4, 4, 3]);
    const relu = g.op('relu', 'Relu', [x]);
    const relu6 = g.op('relu6', 'Maximum', [g.op('relu6_min', 'Minimum', [relu, g.fixed('six', [6], [])]), g.fixed('zero', [0], [])]);
    const clamped = g.op('clamp', 'Minimum', [g.op('clamp_max', 'Maximum', [x, g.fixed('low', [-2], [])]), g.fixed('high', [3], [])]);
    const perChannel = g.op('per_channel', 'Maximum', [g.op('per_channel_min', 'Minimum', [x, g.fixed('ceiling', [1, 2, 3])]), g.fixed('floor', [0], [])]);
    const empty = g.op('empty', 'Maximum', [g.op('empty_min', 'Minimum', [x, g.fixed('below', [-1], [])]), g.fixed('above', [1], [])]);
    const outputs = [relu6, clamped, perChannel, empty];
    const path = g.write(outputs);

    const bytes = convertTfjsGraph(readTfjsGraph(path), { graphName: 'clamps' });
    const ops = onnx.ModelProto.decode(bytes).graph?.node?.map((n) => n.opType) ?? [];
    // Per-channel bounds, and bounds whose floor lies above their ceiling, stay as they are.
    expect(ops.filter((op) => op === 'Clip')).toHaveLength(2);
    expect(ops.filter((op) => op === 'Relu')).toHaveLength(0);
    expect(ops.filter((op) => op === 'Min' || op === 'Max')).toHaveLength(4);

    const session = await ort.InferenceSession.create(bytes);
    const random = seededRandom(11);
    const input = new Float32Array(48).map(() => random() * 16 - 8);
    const result = await session.run({ x: new ort.Tensor('float32', permute(input, [1, 4, 4, 3], [0, 3, 1, 2]).data, [1, 3, 4, 4]) });
    const model = await loadTfjs(path);
    const expected = model.execute(tf.tensor(input, [1, 4, 4, 3]), outputs) as tf.Tensor[];
    outputs.forEach((name, i) => expect(Array.from(result[name].data as Float32Array)).toEqual(Array.from(expected[i].dataSync())));
  });

  it('stops at an unsupported op, naming the op and the node', () => {
    const g = new GraphModelBuilder();
    const x = g.input('x', [1, 4, 4, 3]);
    g.op('features/squeeze', 'Squeeze', [x]);
    const graph = readTfjsGraph(g.write(['features/squeeze']));
    expect(() => convertTfjsGraph(graph, { graphName: 'bad' })).toThrow(UnsupportedGraphError);
    expect(() => convertTfjsGraph(graph, { graphName: 'bad' })).toThrow('node "features/squeeze" (op Squeeze): op is not supported');
  });

  it('stops at an unsupported fused activation, naming it', () => {
    const g = new GraphModelBuilder();
    const x = g.input('x', [1, 4, 4, 3]);
    g.op('conv', '_FusedConv2D', [x, g.floats('w', [1, 1, 3, 2]), g.floats('b', [2])], {
      ...window('SAME', [1, 1, 1, 1]),
      fused_ops: fused(['BiasAdd', 'Elu']),
    });
    const graph = readTfjsGraph(g.write(['conv']));
    expect(() => convertTfjsGraph(graph, { graphName: 'bad' })).toThrow('node "conv" (op _FusedConv2D): fused activation Elu is not supported');
  });
});

describe('readTfjsGraph', () => {
  it('stops at an unsupported quantization, naming the weight', () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-graph-'));
    writeFileSync(join(dir, 'w.bin'), Buffer.alloc(4));
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({
        format: 'graph-model',
        modelTopology: { node: [] },
        weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'dense/kernel', shape: [4], dtype: 'float32', quantization: { dtype: 'uint8', min: 0, scale: 1 } }] }],
      }),
    );
    expect(() => readTfjsGraph(join(dir, 'model.json'))).toThrow('weight dense/kernel: unsupported quantization uint8');
  });

  it('rejects a shard shorter than its manifest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-graph-'));
    writeFileSync(join(dir, 'w.bin'), Buffer.alloc(8));
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({ modelTopology: { node: [] }, weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'k', shape: [4], dtype: 'float32' }] }] }),
    );
    expect(() => readTfjsGraph(join(dir, 'model.json'))).toThrow('weight k: shard ends before its data');
  });
});
