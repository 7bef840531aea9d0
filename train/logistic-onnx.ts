/** Writes a fitted LogisticModel as an ONNX graph: standardise, clip, append squares, Gemm, Sigmoid. */
import { onnx } from 'onnx-proto';
import { ONNX_OPSET } from '../src/models/onnx-converter';
import { type LogisticModel, Z_CLIP } from './logistic';

function tensor(name: string, dims: number[], data: Float32Array): onnx.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

function io(name: string, width: number): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } } };
}

export function logisticToOnnx(model: LogisticModel, names: { graph: string; input: string; output: string }): Uint8Array {
  const d = model.mean.length;
  const outputs = model.bias.length;
  const node = (opType: string, input: string[], output: string, attribute: onnx.IAttributeProto[] = []): onnx.INodeProto => ({ opType, input, output: [output], name: output, attribute });
  const graph: onnx.IGraphProto = {
    name: names.graph,
    input: [io(names.input, d)],
    output: [io(names.output, outputs)],
    initializer: [
      tensor('mean', [d], model.mean),
      tensor('std', [d], model.std),
      tensor('clip_low', [], Float32Array.of(-Z_CLIP)),
      tensor('clip_high', [], Float32Array.of(Z_CLIP)),
      tensor('weights', [2 * d, outputs], model.weights),
      tensor('bias', [outputs], model.bias),
    ],
    node: [
      node('Sub', [names.input, 'mean'], 'centred'),
      node('Div', ['centred', 'std'], 'standardised'),
      node('Clip', ['standardised', 'clip_low', 'clip_high'], 'z'),
      node('Mul', ['z', 'z'], 'z_squared'),
      node('Concat', ['z', 'z_squared'], 'expanded', [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }]),
      node('Gemm', ['expanded', 'weights', 'bias'], 'logits'),
      node('Sigmoid', ['logits'], names.output),
    ],
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: ONNX_OPSET }], producerName: 'facegate-train', graph })).finish();
}
