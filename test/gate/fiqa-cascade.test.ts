import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { detectingFrom } from '../../src/pipeline/analyze';
import { type FiqaThresholds, type FiqaVerdict, fiqaCascade, fiqaVerdict } from '../../src/gate/fiqa';
import { assess } from '../../src/pipeline/analyze';
import { runsOf, stageRecord, stagesRun } from '../../src/pipeline/stages';
import { describeWithFaces, faceManifest, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';

const { config, options, models } = useModels();

/** The defaults, then a stricter and a looser set: each moves where the cascade stops. */
const THRESHOLD_SETS: [string, FiqaThresholds][] = [
  ['default', config.gate.fiqa],
  ['strict', { detection: 0.9, occlusion: 0.3, iqa: 0.7 }],
  ['loose', { detection: 0.5, occlusion: 0.85, iqa: 0.2 }],
];

/** The verdict as it was before the cascade: the whole assessment, then `fiqaVerdict`. */
async function wholeVerdict(bytes: Buffer, thresholds: FiqaThresholds): Promise<FiqaVerdict> {
  return fiqaVerdict(await assess(bytes, models(), detectingFrom(options, thresholds.detection)), thresholds);
}

describe('the FIQA cascade on an image without a face', () => {
  it('stops after detection (and the second look) with no face', async () => {
    const gradient = await sharp(Buffer.from(Array.from({ length: 64 * 48 * 3 }, (_, i) => (i * 7) % 256)), { raw: { width: 64, height: 48, channels: 3 } })
      .resize(640, 480)
      .jpeg()
      .toBuffer();
    const record = stageRecord();
    expect(await fiqaCascade(gradient, models(), options, config.gate.fiqa, record)).toEqual({ outcome: 'face_count', faceCount: 0 });
    expect(stagesRun(record).filter((s) => !['decode', 'detect', 'mesh', 'second look'].includes(s))).toEqual([]);
  });
});

describeWithFaces('the FIQA cascade on the shared photos', () => {
  const files = faceManifest().map((r) => r.file);
  /** Each photo's verdict at the default thresholds, from the whole assessment. */
  const byDefault = new Map<string, FiqaVerdict>();

  it('gives the whole assessment verdict for every photo, to the bit, at the default and two other threshold sets', async () => {
    const differences: string[] = [];
    const outcomes = new Set<string>();
    for (const file of files) {
      const bytes = readFileSync(facePath(file));
      for (const [name, thresholds] of THRESHOLD_SETS) {
        const whole = await wholeVerdict(bytes, thresholds);
        const cascade = await fiqaCascade(bytes, models(), options, thresholds);
        if (name === 'default') byDefault.set(file, whole);
        outcomes.add(whole.outcome);
        if (JSON.stringify(cascade) !== JSON.stringify(whole)) differences.push(`${file} at ${name}: ${JSON.stringify(cascade)} vs ${JSON.stringify(whole)}`);
        expect(cascade).toEqual(whole);
      }
    }
    expect(differences).toEqual([]);
    // Every outcome is among them (low quality only at the strict set), so each place the cascade stops is compared.
    expect([...outcomes].sort()).toEqual(['accepted', 'face_count', 'low_quality', 'occluded']);
  }, 900_000);

  /** The first photo (manifest order) whose default verdict satisfies `test`. */
  const first = (test: (v: FiqaVerdict) => boolean): Buffer => {
    const file = files.find((f) => {
      const verdict = byDefault.get(f);
      return verdict !== undefined && test(verdict);
    });
    if (!file) throw new Error('no such photo (the comparison above runs first)');
    return readFileSync(facePath(file));
  };

  it('runs no iris, occlusion, embedding, expression or quality model on a photo of two or more faces', async () => {
    const record = stageRecord();
    const verdict = await fiqaCascade(first((v) => v.faceCount >= 2), models(), options, config.gate.fiqa, record);
    expect(verdict.outcome).toBe('face_count');
    expect(stagesRun(record)).toEqual(['decode', 'detect', 'mesh']);
    for (const model of ['iris', 'fr-feature-maps', 'occlusion', 'fr-feature', 'emotion', 'quality'] as const) expect(runsOf(record, model)).toBe(0);
    // Faces are counted once FaceMesh confirms them, so the mesh is part of detection.
    expect(runsOf(record, 'facemesh')).toBe(2);
  });

  it('runs no embedding or quality model on an occluded face', async () => {
    const record = stageRecord();
    const verdict = await fiqaCascade(first((v) => v.outcome === 'occluded'), models(), options, config.gate.fiqa, record);
    expect(verdict.outcome).toBe('occluded');
    expect(stagesRun(record)).toEqual(['decode', 'detect', 'mesh', 'eyes', 'occlusion']);
    expect([runsOf(record, 'fr-feature-maps'), runsOf(record, 'occlusion')]).toEqual([1, 1]);
    for (const model of ['fr-feature', 'emotion', 'quality'] as const) expect(runsOf(record, model)).toBe(0);
  });

  it('runs every stage but expression on a face it judges for quality', async () => {
    const record = stageRecord();
    const verdict = await fiqaCascade(first((v) => v.outcome === 'accepted'), models(), options, config.gate.fiqa, record);
    expect(verdict.outcome).toBe('accepted');
    expect(stagesRun(record)).toEqual(['decode', 'detect', 'mesh', 'eyes', 'occlusion', 'embed', 'measure', 'quality']);
    // fr-feature runs on the mirrored crop only: fr-feature-maps gave the aligned crop's embedding.
    expect([runsOf(record, 'fr-feature-maps'), runsOf(record, 'fr-feature'), runsOf(record, 'quality'), runsOf(record, 'emotion')]).toEqual([1, 1, 1, 0]);
  });

  it('lets the thresholds decide where it stops: an occluded face at the default occlusion threshold is judged for quality at 1.01', async () => {
    const bytes = first((v) => v.outcome === 'occluded');
    const record = stageRecord();
    const thresholds = { ...config.gate.fiqa, occlusion: 1.01 };
    const verdict = await fiqaCascade(bytes, models(), options, thresholds, record);
    expect(verdict).toEqual(await wholeVerdict(bytes, thresholds));
    expect(verdict.iqa).toBeDefined();
    expect(runsOf(record, 'quality')).toBe(1);
  });
});
