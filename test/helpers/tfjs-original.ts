import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CATALOG, type ConvertedModel, packageRoot } from '../../src/models/catalog';

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  signature?: object;
  userDefinedMetadata?: { [key: string]: object };
}

/** The original TFJS graph model, loaded from the npm package on tfjs's pure-JS CPU backend. */
export async function loadTfjsOriginal(name: ConvertedModel): Promise<{ model: tf.GraphModel; outputNodes: string[] }> {
  await tf.setBackend('cpu');
  const entry = CATALOG[name];
  const path = join(packageRoot(entry.package), entry.file);
  const json = JSON.parse(readFileSync(path, 'utf8')) as ModelJson;
  const weights = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dirname(path), p)))));
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  );
  const signature = (json.signature ?? json.userDefinedMetadata?.signature) as { outputs: Record<string, { name: string }> };
  const outputNodes = entry.outputs.map((o) => signature.outputs[o.tfKey].name.replace(/:0$/, ''));
  return { model, outputNodes };
}

/** Runs the original on NHWC input and returns each output's values in catalog order. */
export function runTfjs(original: { model: tf.GraphModel; outputNodes: string[] }, nhwc: Float32Array, shape: number[]): Float32Array[] {
  return tf.tidy(() => {
    const result = original.model.execute(tf.tensor(nhwc, shape), original.outputNodes);
    const tensors = Array.isArray(result) ? result : [result];
    return tensors.map((t) => t.dataSync() as Float32Array);
  });
}
