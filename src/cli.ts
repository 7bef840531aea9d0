import { readFileSync, writeFileSync } from 'node:fs';
import { analysisOptions, loadConfig } from './config';
import { loadModels } from './models/registry';
import { analyze, type FaceAnalysis } from './pipeline/analyze';
import { ImageError } from './pipeline/decode';

const USAGE = 'usage: facegate analyze <image...> [--crop out.jpg]';

/** Numbers rounded to 4 decimals, embeddings as plain arrays, crops left out (see --crop). */
function printable(file: string, analysis: FaceAnalysis): unknown {
  return JSON.parse(
    JSON.stringify({ file, ...analysis }, (key, value: unknown) => {
      if (key === 'crop') return undefined;
      if (value instanceof Float32Array) return Array.from(value, (v) => Math.round(v * 1e4) / 1e4);
      if (typeof value === 'number') return Math.round(value * 1e4) / 1e4;
      return value;
    }),
  );
}

function cropPath(template: string, index: number, count: number): string {
  if (count === 1) return template;
  const dot = template.lastIndexOf('.');
  return dot > 0 ? `${template.slice(0, dot)}-${index + 1}${template.slice(dot)}` : `${template}-${index + 1}`;
}

async function analyzeCommand(args: string[]): Promise<number> {
  const cropIndex = args.indexOf('--crop');
  const crop = cropIndex >= 0 ? args[cropIndex + 1] : undefined;
  if (cropIndex >= 0 && !crop) throw new Error(`--crop needs a file name\n${USAGE}`);
  const files = args.filter((_, i) => cropIndex < 0 || (i !== cropIndex && i !== cropIndex + 1));
  if (files.length === 0) throw new Error(USAGE);

  const config = loadConfig();
  const models = await loadModels(config.models);
  const options = analysisOptions(config);
  let failures = 0;
  for (const [index, file] of files.entries()) {
    try {
      const analysis = await analyze(readFileSync(file), models, options);
      console.log(JSON.stringify(printable(file, analysis)));
      if (crop && analysis.faces.length > 0) writeFileSync(cropPath(crop, index, files.length), analysis.faces[0].crop);
    } catch (error) {
      failures++;
      const reason = error instanceof ImageError ? `${error.code}: ${error.message}` : (error as Error).message;
      console.log(JSON.stringify({ file, error: reason }));
    }
  }
  await models.release();
  return failures === 0 ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === 'analyze') return analyzeCommand(args);
  throw new Error(USAGE);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`facegate: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
