import type { ModelName } from '../models/catalog';
import type { ModelOutputs, ModelRunner } from '../models/registry';
import { faceRegion, regionToTensor } from './crop';
import type { Landmarks, RgbImage } from './types';

/**
 * Runs `model` once over the aligned region of every face (`regionScale` times the mesh extent),
 * resized to the model's input and scaled to its value range.
 */
export async function runOnFaces<N extends ModelName>(
  image: RgbImage,
  faces: Landmarks[],
  model: ModelRunner<N>,
  regionScale: number,
): Promise<ModelOutputs<N>> {
  const [channels, size] = model.imageShape;
  const range = model.entry.input.range;
  if (!range) throw new Error(`${model.name} does not take images`);
  const input = new Float32Array(faces.length * channels * size * size);
  faces.forEach((face, i) => regionToTensor(image, faceRegion(face, regionScale), size, range, input, i, channels === 1));
  return model.run(input, faces.length);
}
