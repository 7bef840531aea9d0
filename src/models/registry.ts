import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ModelName, OutputName } from './catalog';
import { type ManifestEntry, readManifest, sha256 } from './manifest';

export class ModelLoadError extends Error {}

export interface ModelOptions {
  /** Folder holding manifest.json and the .onnx files. */
  dir: string;
  load: readonly ModelName[];
  intraOpThreads: number;
  interOpThreads: number;
}

export type ModelOutputs<N extends ModelName> = Record<OutputName<N>, Float32Array>;

/** One loaded ONNX model. Inputs are NCHW float32; `batch` images are laid out one after another. */
export interface ModelRunner<N extends ModelName> {
  readonly name: N;
  readonly entry: ManifestEntry;
  /** Input shape for one image, without the batch dimension, e.g. [3, 256, 256]. */
  readonly imageShape: readonly number[];
  run(input: Float32Array, batch?: number): Promise<ModelOutputs<N>>;
}

export interface ModelRegistry {
  get<N extends ModelName>(name: N): ModelRunner<N>;
  has(name: ModelName): boolean;
  readonly loaded: readonly ModelName[];
  release(): Promise<void>;
}

class SessionRunner<N extends ModelName> implements ModelRunner<N> {
  readonly imageShape: readonly number[];
  private readonly imageSize: number;

  constructor(
    readonly name: N,
    readonly entry: ManifestEntry,
    readonly session: ort.InferenceSession,
  ) {
    this.imageShape = entry.input.shape.slice(1);
    this.imageSize = this.imageShape.reduce((a, b) => a * b, 1);
  }

  async run(input: Float32Array, batch = 1): Promise<ModelOutputs<N>> {
    if (input.length !== batch * this.imageSize) {
      throw new RangeError(`${this.name}: input has ${input.length} values, expected ${batch} x ${this.imageShape.join('x')}`);
    }
    if (this.entry.input.shape[0] > 0 && batch !== this.entry.input.shape[0]) {
      throw new RangeError(`${this.name}: batch size is fixed at ${this.entry.input.shape[0]}`);
    }
    const tensor = new ort.Tensor('float32', input, [batch, ...this.imageShape]);
    const result = await this.session.run({ [this.entry.input.name]: tensor });
    const outputs = {} as Record<string, Float32Array>;
    for (const output of this.entry.outputs) outputs[output.name] = result[output.name].data as Float32Array;
    return outputs as ModelOutputs<N>;
  }
}

/** Reads and checks a model file against its manifest entry; the error names the file. */
function verifiedModelBytes(dir: string, entry: ManifestEntry): Buffer {
  const path = join(dir, entry.file);
  if (!existsSync(path)) throw new ModelLoadError(`model file ${path} is missing (run npm run models:convert)`);
  const bytes = readFileSync(path);
  const actual = sha256(bytes);
  if (actual !== entry.sha256) {
    throw new ModelLoadError(`model file ${path} is corrupt: sha256 ${actual} does not match ${entry.sha256} in the manifest`);
  }
  return bytes;
}

/** Creates one ONNX Runtime session per requested model, once, after checking every file. */
export async function loadModels(options: ModelOptions): Promise<ModelRegistry> {
  const manifestPath = join(options.dir, 'manifest.json');
  if (!existsSync(manifestPath)) throw new ModelLoadError(`model manifest ${manifestPath} is missing`);
  const manifest = readManifest(manifestPath);
  const entries = options.load.map((name) => {
    const entry = manifest.models.find((m) => m.name === name);
    if (!entry) throw new ModelLoadError(`model ${name} is not listed in ${manifestPath}`);
    return { entry, bytes: verifiedModelBytes(options.dir, entry) };
  });
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: options.interOpThreads,
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    // Idle intra-op threads would otherwise spin after each run; with several sessions sharing
    // two cores, the spinning threads of one model starve the next model in the pipeline.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const runners = new Map<ModelName, ModelRunner<ModelName>>();
  for (const { entry, bytes } of entries) {
    const session = await ort.InferenceSession.create(bytes, sessionOptions);
    runners.set(entry.name, new SessionRunner(entry.name, entry, session));
  }
  return {
    loaded: [...runners.keys()],
    has: (name) => runners.has(name),
    get<N extends ModelName>(name: N): ModelRunner<N> {
      const runner = runners.get(name);
      if (!runner) throw new ModelLoadError(`model ${name} is not loaded (config models.load)`);
      return runner as unknown as ModelRunner<N>;
    },
    async release() {
      for (const runner of runners.values()) await (runner as SessionRunner<ModelName>).session.release();
      runners.clear();
    },
  };
}
