/**
 * `npm run eval:detection [-- --out file.md] [--diagnose] [--only masks-real masked,...]`: how many
 * faces the service finds (`locateFaces`, the configured detection options) in each population of
 * the shared photo set (../shared/data/faces) and of faces-extra (../shared/data/faces-extra): the
 * share of images with exactly one face, none, and two or more. With --diagnose, every image
 * where a one-face population finds no face is traced through the first pass to say where it was
 * lost: no detector box above the threshold, or boxes the mesh did not confirm.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config';
import { loadModels, type ModelRegistry } from '../src/models/registry';
import { type AnalysisOptions, locateFaces } from '../src/pipeline/analyze';
import { decodeImage } from '../src/pipeline/decode';
import { detectFaces } from '../src/pipeline/detect';
import { locateLandmarks } from '../src/pipeline/landmarks';
import type { RgbImage } from '../src/pipeline/types';
import { EXTRA_DIR, extraAvailable, extraPopulations, FACES_DIR, faceManifest, facePath, facesAvailable, photoSetOptions } from './dataset';
import { markdownReport, runScript } from './markdown';

interface Population {
  name: string;
  /** What a correct answer is: exactly one face, none, or several. */
  expected: '1' | '0' | '2+';
  files: string[];
}

function populations(): Population[] {
  const all: Population[] = [];
  if (facesAvailable) {
    const shared = faceManifest();
    const pick = (test: (r: (typeof shared)[number]) => boolean) => shared.filter(test).map((r) => facePath(r.file));
    all.push(
      { name: 'shared one-face, bare', expected: '1', files: pick((r) => r.faces === 1 && !r.occlusion) },
      { name: 'shared one-face, occluded', expected: '1', files: pick((r) => r.faces === 1 && !!r.occlusion) },
      { name: 'shared multi-face', expected: '2+', files: pick((r) => r.faces === '2+') },
      { name: 'shared face-free', expected: '0', files: pick((r) => r.faces === 0) },
    );
  }
  if (extraAvailable) {
    for (const { set, masked, paths } of extraPopulations()) {
      all.push({ name: masked === undefined ? set : `${set} ${masked ? 'masked' : 'bare'}`, expected: '1', files: paths });
    }
  }
  return all;
}

function bucket(score: number): string {
  const edges = [0.5, 0.3, 0.1];
  const low = edges.find((e) => score >= e);
  return low === undefined ? `< ${edges[edges.length - 1]}` : `>= ${low}`;
}

/** Where the first pass (whole frame, zoomed out, tiles; then the mesh) lost a face. */
async function diagnose(image: RgbImage, models: ModelRegistry, options: AnalysisOptions['detection']): Promise<string> {
  const detector = models.get('blazeface');
  const detections = await detectFaces(image, detector, options);
  if (detections.length === 0) {
    const low = await detectFaces(image, detector, { ...options, scoreThreshold: 0.05 });
    return `detector: no box at ${options.scoreThreshold}, best ${bucket(Math.max(0, ...low.map((d) => d.confidence)))}`;
  }
  const marks = await locateLandmarks(image, detections, { facemesh: models.get('facemesh'), iris: models.get('iris') });
  const mesh = Math.max(...marks.map((m) => m.meshScore));
  if (mesh < options.minMeshScore) return `mesh: box found, mesh score below ${options.minMeshScore}, best ${bucket(mesh)}`;
  return 'confirmed in the first pass, dropped later';
}

const pct = (n: number, of: number) => (of === 0 ? '-' : `${((100 * n) / of).toFixed(1)}%`);

async function main(): Promise<void> {
  if (!facesAvailable && !extraAvailable) throw new Error(`neither ${FACES_DIR} nor ${EXTRA_DIR} is present`);
  const config = loadConfig();
  const options = photoSetOptions(config);
  const models = await loadModels(config.models);
  const withDiagnosis = process.argv.includes('--diagnose');
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt >= 0 ? process.argv[onlyAt + 1].split(',') : null;
  const { say, table, finish } = markdownReport();
  say('# Faces found per population');
  say();
  say(`Produced by \`npm run eval:detection\`: \`locateFaces\` with the configured \`pipeline.detection\` (${JSON.stringify(options.detection)}).`);
  say();
  const rows: (string | number)[][] = [];
  const causes: (string | number)[][] = [];
  const misses: string[][] = [];
  let totalMs = 0;
  let totalImages = 0;
  for (const population of populations()) {
    if (only && !only.includes(population.name)) continue;
    const counts = { one: 0, none: 0, many: 0 };
    const reasons = new Map<string, number>();
    for (const file of population.files) {
      const image = await decodeImage(readFileSync(file), options.limits);
      const start = performance.now();
      const found = (await locateFaces(image, models, options.detection)).length;
      totalMs += performance.now() - start;
      totalImages++;
      if (found === 1) counts.one++;
      else if (found === 0) counts.none++;
      else counts.many++;
      const wrong = population.expected === '1' ? found !== 1 : population.expected === '0' ? found !== 0 : found < 2;
      if (wrong) misses.push([population.name, file.replace(/.*\/shared\//, '../shared/'), String(found)]);
      if (withDiagnosis && population.expected === '1' && found === 0) {
        const reason = await diagnose(image, models, options.detection);
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
    }
    const n = population.files.length;
    rows.push([
      population.name,
      population.expected,
      n,
      `${counts.one} (${pct(counts.one, n)})`,
      `${counts.none} (${pct(counts.none, n)})`,
      `${counts.many} (${pct(counts.many, n)})`,
    ]);
    for (const [reason, count] of reasons) causes.push([population.name, reason, count]);
  }
  table(['population', 'expected faces', 'images', 'exactly 1', 'none', '2 or more'], rows);
  say(`Mean time of \`locateFaces\` over the ${totalImages} images: ${(totalMs / Math.max(1, totalImages)).toFixed(1)} ms.`);
  say();
  if (withDiagnosis && causes.length > 0) {
    say('Where the one-face images with no face found were lost in the first pass:');
    say();
    table(['population', 'cause', 'images'], causes);
  }
  if (process.argv.includes('--misses') && misses.length > 0) {
    say('Images not as expected:');
    say();
    table(['population', 'file', 'faces found'], misses);
  }
  finish();
}

runScript(main);
