/**
 * `npm run bench:pipeline [-- --runs N]`: median and p90 of each analysis stage and of the whole
 * analysis, for one face in a 640x480 and a 1920x1080 JPEG made from a real portrait (or, without
 * the shared photo set, from a synthetic image, which has no face and so times only decode+detect).
 */
import { performance } from 'node:perf_hooks';
import { analysisOptions, loadConfig } from '../src/config';
import { loadModels, type ModelRegistry } from '../src/models/registry';
import { alignedFace, encodeJpeg } from '../src/pipeline/crop';
import { decodeImage } from '../src/pipeline/decode';
import { detectFaces } from '../src/pipeline/detect';
import { embedFaces } from '../src/pipeline/embed';
import { expressions } from '../src/pipeline/expression';
import { analyze, type AnalysisOptions, assess } from '../src/pipeline/analyze';
import { locateLandmarks } from '../src/pipeline/landmarks';
import { livenessScores } from '../src/pipeline/liveness';
import { occlusionScores } from '../src/pipeline/occlusion';
import { measurePhotometry } from '../src/pipeline/photometry';
import { PORTRAIT, portraitAvailable, portraitFrame } from './frames';
import { argValue, stealMeter, summarize } from './stats';

async function stages(bytes: Buffer, models: ModelRegistry, options: AnalysisOptions): Promise<Record<string, number>> {
  const times: Record<string, number> = {};
  const timed = async <T>(name: string, work: () => Promise<T> | T): Promise<T> => {
    const start = performance.now();
    const result = await work();
    times[name] = performance.now() - start;
    return result;
  };
  const image = await timed('decode', () => decodeImage(bytes, options.limits));
  const detections = await timed('detect', () => detectFaces(image, models.get('blazeface'), options.detection));
  const faces = await timed('landmarks (mesh x2 + iris)', () => locateLandmarks(image, detections.slice(0, 1), { facemesh: models.get('facemesh'), iris: models.get('iris') }));
  await timed('occlusion (fr-feature-maps + occlusion)', () => occlusionScores(image, faces, models.get('fr-feature-maps'), models.get('occlusion')));
  await timed('expression', () => expressions(image, faces, models.get('emotion'), options.expression.regionScale));
  await timed(`embed (${options.embedding.model}${options.embedding.mirror ? ' + mirror' : ''})`, () => embedFaces(image, faces, models.get(options.embedding.model), options.embedding));
  await timed('liveness', () => livenessScores(image, faces, { antispoof: models.get('antispoof'), liveness: models.get('liveness') }, options.liveness));
  await timed('photometry', () => faces.forEach((f) => measurePhotometry(image, f)));
  await timed('crop (JPEG)', () => Promise.all(faces.map((f) => encodeJpeg(alignedFace(image, f, options.crop), options.crop.jpegQuality))));
  await timed('whole analyze()', () => analyze(bytes, models, options));
  await timed('whole assess() (FIQA: no liveness, no crop)', () => assess(bytes, models, options));
  return times;
}

async function main(): Promise<void> {
  const runs = argValue('runs', 30);
  const config = loadConfig();
  const models = await loadModels(config.models);
  const options = analysisOptions(config);
  console.log(`${runs} runs after 3 warm-up runs; ${config.models.intraOpThreads} intra-op threads; ${portraitAvailable ? `face from ${PORTRAIT}` : 'no photo set: synthetic frames without a face'}`);
  for (const [width, height] of [
    [640, 480],
    [1920, 1080],
  ]) {
    const bytes = await portraitFrame(width, height);
    for (let i = 0; i < 3; i++) await stages(bytes, models, options);
    const samples: Record<string, number[]> = {};
    const stolen = stealMeter();
    for (let i = 0; i < runs; i++) {
      for (const [name, ms] of Object.entries(await stages(bytes, models, options))) (samples[name] ??= []).push(ms);
    }
    console.log(`\n${width}x${height} JPEG (${bytes.length} bytes); CPU stolen by the host meanwhile: ${(100 * stolen()).toFixed(0)}%`);
    console.log('| stage | median ms | p90 ms |');
    console.log('|---|---:|---:|');
    for (const [name, values] of Object.entries(samples)) {
      const { median, p90 } = summarize(values);
      console.log(`| ${name} | ${median.toFixed(1)} | ${p90.toFixed(1)} |`);
    }
  }
  await models.release();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
