/**
 * `npm run models:convert`: converts every catalogued TFJS model to ONNX under models/, copies
 * the models npm packages ship as ONNX, and rewrites models/manifest.json. The output is
 * deterministic: converting twice gives byte-identical files.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import {
  CATALOG,
  CONVERTED_MODELS,
  type ConvertedModel,
  DERIVED_CATALOG,
  DERIVED_MODELS,
  type DerivedModel,
  packageRoot,
  SHIPPED_CATALOG,
  SHIPPED_MODELS,
  type ShippedModel,
} from './catalog';
import { withExtraOutputs } from './derive';
import { type ManifestEntry, type ModelManifest, readManifest, sha256 } from './manifest';
import { ONNX_OPSET, convertTfjsGraph } from './onnx-converter';
import { readTfjsGraph } from './tfjs-graph';

const CONVERTER = 'facegate-tfjs-converter 2';

/** Runs the converted model once on zeros to learn its output shapes. */
async function outputShapes(bytes: Uint8Array, inputShape: number[]): Promise<Record<string, number[]>> {
  const session = await ort.InferenceSession.create(bytes);
  const concrete = inputShape.map((d) => (d < 0 ? 1 : d));
  const input = new ort.Tensor('float32', new Float32Array(concrete.reduce((a, b) => a * b, 1)), concrete);
  const result = await session.run({ [session.inputNames[0]]: input });
  await session.release();
  return Object.fromEntries(
    Object.entries(result).map(([name, tensor]) => [name, tensor.dims.map((d, i) => (i === 0 && inputShape[0] < 0 ? -1 : d))]),
  );
}

async function convertOne(name: ConvertedModel, outDir: string): Promise<ManifestEntry> {
  const entry = CATALOG[name];
  const root = packageRoot(entry.package);
  const modelJson = join(root, entry.file);
  const graph = readTfjsGraph(modelJson);
  const bytes = convertTfjsGraph(graph, {
    graphName: name,
    inputName: entry.input.name,
    outputNames: Object.fromEntries(entry.outputs.map((o) => [o.tfKey, o.name])),
  });
  const file = `${name}.onnx`;
  writeFileSync(join(outDir, file), bytes);

  const tfInput = graph.inputs[0].shape;
  const inputShape = [tfInput[0], tfInput[3], tfInput[1], tfInput[2]];
  const shapes = await outputShapes(bytes, inputShape);
  const weightFiles = (JSON.parse(readFileSync(modelJson, 'utf8')) as { weightsManifest: { paths: string[] }[] })
    .weightsManifest.flatMap((g) => g.paths);
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  return {
    name,
    file,
    sha256: sha256(bytes),
    opset: ONNX_OPSET,
    source: {
      package: entry.package,
      version,
      file: entry.file,
      weights: weightFiles.map((w) => {
        const path = join(dirname(entry.file), w);
        return { file: path, sha256: sha256(readFileSync(join(root, path))) };
      }),
    },
    input: { name: entry.input.name, shape: inputShape, range: [...entry.input.range], meaning: entry.input.meaning },
    outputs: entry.outputs.map((o) => ({ name: o.name, shape: shapes[o.name], meaning: o.meaning })),
    origin: entry.origin,
    licence: entry.licence,
  };
}

/** A model already in ONNX: copied unchanged, so the copy and the package's file have one sha256. */
async function copyShipped(name: ShippedModel, outDir: string): Promise<ManifestEntry> {
  const entry = SHIPPED_CATALOG[name];
  const root = packageRoot(entry.package);
  const bytes = readFileSync(join(root, entry.file));
  const file = `${name}.onnx`;
  writeFileSync(join(outDir, file), bytes);
  const session = await ort.InferenceSession.create(bytes);
  const dims = (meta: ort.InferenceSession.ValueMetadata) => (meta.isTensor ? meta.shape.map((d) => (typeof d === 'number' ? d : -1)) : []);
  const inputShape = dims(session.inputMetadata[0]);
  const outputs = entry.outputs.map((o) => ({ name: o.name, shape: dims(session.outputMetadata[session.outputNames.indexOf(o.name)]), meaning: o.meaning }));
  await session.release();
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  return {
    name,
    file,
    sha256: sha256(bytes),
    opset: Number(onnx.ModelProto.decode(bytes).opsetImport.find((o) => !o.domain)?.version ?? 0),
    source: { package: entry.package, version, file: entry.file, weights: [{ file: entry.file, sha256: sha256(bytes) }] },
    input: { name: entry.input.name, shape: inputShape, range: [...entry.input.range], meaning: entry.input.meaning },
    outputs,
    origin: entry.origin,
    licence: entry.licence,
  };
}

/** A shipped model's graph with intermediate tensors exposed (DERIVED_CATALOG); its source is the shipped file. */
async function deriveShipped(name: DerivedModel, shipped: ManifestEntry, outDir: string): Promise<ManifestEntry> {
  const entry = DERIVED_CATALOG[name];
  const original = readFileSync(join(packageRoot(SHIPPED_CATALOG[entry.from].package), shipped.source.file));
  const bytes = withExtraOutputs(original, entry.exposed);
  const file = `${name}.onnx`;
  writeFileSync(join(outDir, file), bytes);
  const session = await ort.InferenceSession.create(bytes);
  const concrete = shipped.input.shape.map((d) => (d < 0 ? 1 : d));
  const result = await session.run({ [shipped.input.name]: new ort.Tensor('float32', new Float32Array(concrete.reduce((a, b) => a * b, 1)), concrete) });
  await session.release();
  return {
    ...shipped,
    name,
    file,
    sha256: sha256(bytes),
    outputs: [...shipped.outputs, ...entry.exposed.map((e) => ({ name: e.name, shape: [...result[e.name].dims], meaning: e.meaning }))],
    origin: entry.origin,
  };
}

async function main(): Promise<void> {
  const outDir = resolve(process.argv[2] ?? 'models');
  mkdirSync(outDir, { recursive: true });
  // Entries this command does not produce (models trained in this repository) are kept as they are.
  const manifestPath = join(outDir, 'manifest.json');
  const produced: readonly string[] = [...CONVERTED_MODELS, ...SHIPPED_MODELS, ...DERIVED_MODELS];
  const kept = existsSync(manifestPath) ? readManifest(manifestPath).models.filter((m) => !produced.includes(m.name)) : [];
  const manifest: ModelManifest = { converter: CONVERTER, models: [] };
  for (const name of CONVERTED_MODELS) {
    const entry = await convertOne(name, outDir);
    manifest.models.push(entry);
    console.log(`${name.padEnd(13)} ${entry.file.padEnd(18)} ${entry.sha256.slice(0, 16)}  ${entry.outputs.map((o) => `${o.name}[${o.shape.join(',')}]`).join(' ')}`);
  }
  for (const name of SHIPPED_MODELS) {
    const entry = await copyShipped(name, outDir);
    manifest.models.push(entry);
    console.log(`${name.padEnd(13)} ${entry.file.padEnd(18)} ${entry.sha256.slice(0, 16)}  copied from ${entry.source.package}`);
  }
  for (const name of DERIVED_MODELS) {
    const shipped = manifest.models.find((m) => m.name === DERIVED_CATALOG[name].from) as ManifestEntry;
    const entry = await deriveShipped(name, shipped, outDir);
    manifest.models.push(entry);
    console.log(`${name.padEnd(13)} ${entry.file.padEnd(18)} ${entry.sha256.slice(0, 16)}  ${DERIVED_CATALOG[name].from} with ${DERIVED_CATALOG[name].exposed.map((e) => e.name).join(', ')} exposed`);
  }
  const converted = manifest.models.length;
  manifest.models.push(...kept);
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`converted or copied ${converted} models; manifest.json in ${outDir} lists ${manifest.models.length}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
