import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/config';
import type { TrainedModel } from '../src/models/catalog';
import { type ManifestEntry, readManifest, sha256 } from '../src/models/manifest';
import { ONNX_OPSET } from '../src/models/onnx-converter';

/** What a training script says of its model; the file, digest, opset and source are filled in. */
export type TrainedModelDescription = Pick<ManifestEntry, 'input' | 'outputs' | 'origin' | 'licence'>;

/**
 * Writes models/<name>.onnx and its entry in models/manifest.json, leaving every other entry as it
 * is. The manifest is read just before writing: another training script may have rewritten its own
 * entry meanwhile.
 */
export function writeTrainedModel(name: TrainedModel, script: string, bytes: Uint8Array, description: TrainedModelDescription): ManifestEntry {
  const dir = join(PROJECT_ROOT, 'models');
  const file = `${name}.onnx`;
  writeFileSync(join(dir, file), bytes);
  const version = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const entry: ManifestEntry = {
    name,
    file,
    sha256: sha256(bytes),
    opset: ONNX_OPSET,
    source: { package: 'facegate', version, file: script, weights: [] },
    ...description,
  };
  const manifestPath = join(dir, 'manifest.json');
  const manifest = readManifest(manifestPath);
  const at = manifest.models.findIndex((m) => m.name === name);
  if (at >= 0) manifest.models[at] = entry;
  else manifest.models.push(entry);
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`wrote models/${file} (${bytes.length} bytes, sha256 ${entry.sha256.slice(0, 16)})`);
  return entry;
}
