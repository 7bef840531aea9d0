import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelName } from './catalog';

export interface ManifestTensor {
  name: string;
  /** NCHW for images; -1 marks a dynamic (batch) dimension. */
  shape: number[];
  meaning: string;
}

export interface ManifestEntry {
  name: ModelName;
  file: string;
  sha256: string;
  opset: number;
  source: {
    package: string;
    version: string;
    file: string;
    weights: { file: string; sha256: string }[];
  };
  /** For image models, `range` is the span of pixel values the model expects, e.g. [0, 1]. */
  input: ManifestTensor & { range?: [number, number] };
  outputs: ManifestTensor[];
  origin: string;
  licence: string;
}

export interface ModelManifest {
  converter: string;
  models: ManifestEntry[];
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function readManifest(path: string): ModelManifest {
  return JSON.parse(readFileSync(path, 'utf8')) as ModelManifest;
}

/** How a model's outputs are labelled where they are kept: its npm source, version and file digest. */
export function modelVersion(entry: ManifestEntry): string {
  return `${entry.source.package}@${entry.source.version}#${entry.sha256.slice(0, 12)}`;
}

/** The embedding space a model's outputs live in, as templates record it: its name and exact version. */
export function embeddingSpace(dir: string, model: ModelName): { model: ModelName; modelVersion: string } {
  const entry = readManifest(join(dir, 'manifest.json')).models.find((m) => m.name === model);
  if (!entry) throw new Error(`model ${model} is not listed in ${join(dir, 'manifest.json')}`);
  return { model, modelVersion: modelVersion(entry) };
}
