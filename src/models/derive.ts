import { onnx } from 'onnx-proto';

/**
 * A copy of an ONNX model whose graph also outputs the named intermediate tensors, each through an
 * Identity node under its new name (float, shape left to the runtime). Nothing else changes, so
 * the original outputs are computed exactly as before.
 */
export function withExtraOutputs(bytes: Uint8Array, exposed: readonly { tensor: string; name: string }[]): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph as onnx.GraphProto;
  for (const { tensor, name } of exposed) {
    if (!graph.node.some((n) => n.output?.includes(tensor))) throw new Error(`no tensor ${tensor} in the graph`);
    graph.node.push(onnx.NodeProto.create({ opType: 'Identity', input: [tensor], output: [name], name: `expose_${name}` }));
    graph.output.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }));
  }
  return onnx.ModelProto.encode(model).finish();
}
