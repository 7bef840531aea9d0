import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/config';
import { CONVERTED_MODELS, DERIVED_MODELS, packageRoot, SHIPPED_MODELS } from '../../src/models/catalog';
import { readManifest, sha256 } from '../../src/models/manifest';
import { loadModels, ModelLoadError } from '../../src/models/registry';

const MODELS_DIR = join(PROJECT_ROOT, 'models');

/** A models folder holding the manifest and blazeface only, to damage freely. */
function copyOfBlazeface(): string {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-models-'));
  copyFileSync(join(MODELS_DIR, 'manifest.json'), join(dir, 'manifest.json'));
  copyFileSync(join(MODELS_DIR, 'blazeface.onnx'), join(dir, 'blazeface.onnx'));
  return dir;
}

const options = { intraOpThreads: 1, interOpThreads: 1 };

describe('loadModels', () => {
  it('loads the requested models and runs them with outputs of the manifest shapes', async () => {
    const registry = await loadModels({ ...options, dir: MODELS_DIR, load: ['blazeface', 'liveness'] });
    expect(registry.loaded).toEqual(['blazeface', 'liveness']);
    expect(registry.has('faceres')).toBe(false);
    const liveness = registry.get('liveness');
    expect(liveness.imageShape).toEqual([3, 32, 32]);
    const out = await liveness.run(new Float32Array(2 * 3 * 32 * 32).fill(0.5), 2);
    expect(out.live).toHaveLength(4);
    expect(out.live[0] + out.live[1]).toBeCloseTo(1, 5);
    const detector = await registry.get('blazeface').run(new Float32Array(3 * 256 * 256));
    expect(detector.boxes_16).toHaveLength(512 * 16);
    expect(detector.scores_8).toHaveLength(384);
    expect(() => registry.get('faceres')).toThrow('model faceres is not loaded');
    await registry.release();
  });

  it('rejects an input of the wrong size or a batch the model cannot take', async () => {
    const registry = await loadModels({ ...options, dir: MODELS_DIR, load: ['blazeface'] });
    const detector = registry.get('blazeface');
    await expect(detector.run(new Float32Array(10))).rejects.toThrow('blazeface: input has 10 values, expected 1 x 3x256x256');
    await expect(detector.run(new Float32Array(2 * 3 * 256 * 256), 2)).rejects.toThrow('blazeface: batch size is fixed at 1');
    await registry.release();
  });

  it('refuses a model file with one byte flipped, naming the file', async () => {
    const dir = copyOfBlazeface();
    const file = join(dir, 'blazeface.onnx');
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(file, bytes);
    const load = loadModels({ ...options, dir, load: ['blazeface'] });
    await expect(load).rejects.toThrow(ModelLoadError);
    await expect(loadModels({ ...options, dir, load: ['blazeface'] })).rejects.toThrow(`model file ${file} is corrupt`);
  });

  it('refuses a missing model file, naming it', async () => {
    const dir = copyOfBlazeface();
    await expect(loadModels({ ...options, dir, load: ['blazeface', 'iris'] })).rejects.toThrow(`model file ${join(dir, 'iris.onnx')} is missing`);
  });

  it('refuses a model the manifest does not list, and a folder without a manifest', async () => {
    const dir = copyOfBlazeface();
    const manifest = readManifest(join(dir, 'manifest.json'));
    manifest.models = manifest.models.filter((m) => m.name !== 'emotion');
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    await expect(loadModels({ ...options, dir, load: ['emotion'] })).rejects.toThrow('model emotion is not listed in');
    const empty = mkdtempSync(join(tmpdir(), 'facegate-models-'));
    await expect(loadModels({ ...options, dir: empty, load: ['blazeface'] })).rejects.toThrow(`model manifest ${join(empty, 'manifest.json')} is missing`);
  });
});

describe('models/manifest.json', () => {
  it('describes every committed model with its source, hashes, tensors, origin and licence', () => {
    const manifest = readManifest(join(MODELS_DIR, 'manifest.json'));
    expect(manifest.models.map((m) => m.name)).toEqual(
      expect.arrayContaining(['blazeface', 'facemesh', 'iris', 'emotion', 'faceres', 'antispoof', 'liveness', 'occlusion']),
    );
    for (const model of manifest.models) {
      expect(model.source.version).toMatch(/^\d+\.\d+\.\d+$/);
      if ((CONVERTED_MODELS as readonly string[]).includes(model.name)) {
        expect(model.source.weights.length).toBeGreaterThan(0);
        expect(model.input.shape).toHaveLength(4);
        expect(model.input.range).toHaveLength(2);
        expect(model.opset).toBeGreaterThanOrEqual(17);
      } else if ((SHIPPED_MODELS as readonly string[]).includes(model.name)) {
        // Shipped ONNX files are copied unchanged: the copy is the package's file, byte for byte.
        const original = readFileSync(join(packageRoot(model.source.package), model.source.file));
        expect(sha256(readFileSync(join(MODELS_DIR, model.file)))).toBe(sha256(original));
        expect(model.sha256).toBe(sha256(original));
        expect(model.input.shape).toHaveLength(4);
      } else if ((DERIVED_MODELS as readonly string[]).includes(model.name)) {
        // A shipped graph with outputs added (test/models/derived.test.ts): its source is the package's file.
        const original = readFileSync(join(packageRoot(model.source.package), model.source.file));
        expect(model.source.weights).toEqual([{ file: model.source.file, sha256: sha256(original) }]);
        expect(model.sha256).toBe(sha256(readFileSync(join(MODELS_DIR, model.file))));
        expect(model.input.shape).toHaveLength(4);
      } else {
        expect(model.opset).toBeGreaterThanOrEqual(17);
        expect(existsSync(join(PROJECT_ROOT, model.source.file))).toBe(true);
        expect(model.input.shape).toHaveLength(2);
      }
      for (const weight of model.source.weights) expect(weight.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(model.sha256).toMatch(/^[0-9a-f]{64}$/);
      for (const output of model.outputs) {
        expect(output.shape.length).toBeGreaterThan(0);
        expect(output.meaning.length).toBeGreaterThan(10);
      }
      expect(model.origin.length).toBeGreaterThan(5);
      expect(model.licence.length).toBeGreaterThan(5);
    }
  });
});
