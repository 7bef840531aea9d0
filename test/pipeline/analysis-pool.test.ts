import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analysisOptions, loadConfig } from '../../src/config';
import { cascadeVerdict, fiqaVerdict } from '../../src/gate/fiqa';
import { loadModels, type ModelRegistry } from '../../src/models/registry';
import { AnalysisPool, PoolError, startAnalyzer } from '../../src/pipeline/analysis-pool';
import { analyze } from '../../src/pipeline/analyze';
import { ImageError } from '../../src/pipeline/decode';
import { runsOf, stageRecord, stagesRun } from '../../src/pipeline/stages';
import { faceManifest, facePath, facesAvailable } from '../helpers/faces';
import { faceFreeJpeg } from '../helpers/images';

const config = loadConfig();
const options = analysisOptions(config);

describe('AnalysisPool', () => {
  let pool: Awaited<ReturnType<typeof startAnalyzer>>;
  let models: ModelRegistry;
  beforeAll(async () => {
    pool = await startAnalyzer({ ...config.models, workers: 2 });
    models = await loadModels(config.models);
  });
  afterAll(async () => {
    await pool.close();
    await models.release();
  });

  it('is ready with every configured model once started', () => {
    expect(pool.loaded).toEqual(config.models.load);
  });

  it('sends the stage and model times of a worker thread back into the caller\'s record', async () => {
    const bytes = await faceFreeJpeg();
    const record = stageRecord();
    await pool.cascade(bytes, options, config.gate.fiqa, record);
    expect(stagesRun(record)).toEqual(['decode', 'detect', 'mesh', 'second look']);
    expect(runsOf(record, 'blazeface')).toBeGreaterThanOrEqual(1);
    const analysed = stageRecord();
    await pool.analyze(bytes, options, analysed);
    expect(stagesRun(analysed)).toContain('crop');
  });

  it('gives the analysis the main thread gives, crops as Buffers', async () => {
    const bytes = facesAvailable ? readFileSync(facePath(faceManifest().find((r) => r.face_count === 1)!.file)) : await faceFreeJpeg();
    const [inWorker, here] = await Promise.all([pool.analyze(bytes, options), analyze(bytes, models, options)]);
    expect(inWorker.faces).toHaveLength(here.faces.length);
    expect({ ...inWorker, faces: [] }).toEqual({ ...here, faces: [] });
    inWorker.faces.forEach((face, i) => {
      expect(Buffer.isBuffer(face.crop)).toBe(true);
      expect(face.detection.confidence).toBeCloseTo(here.faces[i].detection.confidence, 4);
      expect(face.quality.score).toBeCloseTo(here.faces[i].quality.score, 3);
      expect(face.embeddingVersion).toBe(here.faces[i].embeddingVersion);
      let cosine = 0;
      face.embedding.forEach((v, k) => (cosine += v * here.faces[i].embedding[k]));
      expect(cosine).toBeGreaterThan(0.999);
    });
  });

  it('assesses without liveness or crop, agreeing with the full analysis on the rest', async () => {
    const bytes = facesAvailable ? readFileSync(facePath(faceManifest().find((r) => r.face_count === 1)!.file)) : await faceFreeJpeg();
    const [assessed, analysed] = await Promise.all([pool.assess(bytes, options), pool.analyze(bytes, options)]);
    expect(assessed.faces).toHaveLength(analysed.faces.length);
    assessed.faces.forEach((face, i) => {
      expect(face).not.toHaveProperty('crop');
      expect(face).not.toHaveProperty('liveness');
      expect(face.quality.score).toBeCloseTo(analysed.faces[i].quality.score, 6);
      expect(face.occlusion).toEqual(analysed.faces[i].occlusion);
    });
  });

  it('judges FIQA by the cascade on a worker, as the assessment judges it', async () => {
    const bytes = facesAvailable ? readFileSync(facePath(faceManifest().find((r) => r.face_count === 1)!.file)) : await faceFreeJpeg();
    const thresholds = config.gate.fiqa;
    const [measured, assessed] = await Promise.all([pool.cascade(bytes, options, thresholds), pool.assess(bytes, options)]);
    const cascade = cascadeVerdict(measured, thresholds);
    const whole = fiqaVerdict(assessed, thresholds);
    expect({ ...cascade, iqa: undefined }).toEqual({ ...whole, iqa: undefined });
    expect(cascade.iqa?.accepted).toBe(whole.iqa?.accepted);
    if (whole.iqa) expect(cascade.iqa?.score).toBeCloseTo(whole.iqa.score, 6);
    await expect(pool.cascade(Buffer.from('not an image'), options, thresholds)).rejects.toBeInstanceOf(ImageError);
  });

  it('rejects an unreadable image with the ImageError and its code, and goes on', async () => {
    const failed = pool.analyze(Buffer.from('not an image'), options);
    await expect(failed).rejects.toBeInstanceOf(ImageError);
    await expect(failed).rejects.toMatchObject({ code: 'unsupported_format' });
    const analyses = await Promise.all([1, 2, 3].map(async (seed) => pool.analyze(await faceFreeJpeg(seed), options)));
    expect(analyses.map((a) => a.faces.length)).toEqual([0, 0, 0]);
  });
});

describe('AnalysisPool without models', () => {
  it('refuses to start, saying why', async () => {
    const empty = new AnalysisPool({ models: { ...config.models, dir: mkdtempSync(join(tmpdir(), 'facegate-no-models-')) } }, { size: 1, idleMs: null, youngGenerationMb: config.models.workerYoungGenerationMb });
    const started = empty.start();
    await expect(started).rejects.toBeInstanceOf(PoolError);
    await expect(started).rejects.toThrow(/models could not load: model manifest .* is missing/);
    await empty.close();
  });
});
