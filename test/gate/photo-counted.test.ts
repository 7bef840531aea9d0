import { readFileSync } from 'node:fs';
import { countedPhotoVerdict, photoVerdict } from '../../src/gate/photo-rules';
import { analyze, analyzeCounted, detectingFrom } from '../../src/pipeline/analyze';
import { runsOf, stageRecord, stagesRun } from '../../src/pipeline/stages';
import { describeWithFaces, faceManifest, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';

const { config, options, models } = useModels();
const rules = config.gate.photo;
const countingOptions = detectingFrom(options, rules.detection);

describeWithFaces('QI Tech photo rules on an analysis counted first (analyzeCounted)', () => {
  const manifest = faceManifest();
  /** The first photo labelled with that many faces ('2+': several). */
  const firstWith = (faces: number | '2+') => {
    const record = manifest.find((r) => r.faces === faces);
    if (!record) throw new Error(`no photo of ${faces} faces in the manifest`);
    return readFileSync(facePath(record.file));
  };

  it.each([
    ['no face', 0],
    ['one face', 1],
    ['several faces', '2+'],
  ] as const)('gives the verdict of the whole analysis on a photo of %s', async (_label, faces) => {
    const bytes = firstWith(faces);
    const counted = await analyzeCounted(bytes, models(), countingOptions, rules.detection);
    expect(countedPhotoVerdict(counted, rules)).toEqual(photoVerdict(await analyze(bytes, models(), countingOptions), rules));
  });

  it('runs no iris, expression, occlusion, embedding, quality or liveness model on a photo of several faces', async () => {
    const record = stageRecord();
    const counted = await analyzeCounted(firstWith('2+'), models(), countingOptions, rules.detection, record);
    expect(counted.faceCount).toBeGreaterThanOrEqual(2);
    expect(counted.analysis).toBeUndefined();
    expect(stagesRun(record)).toEqual(['decode', 'detect', 'mesh']);
    for (const model of ['iris', 'emotion', 'fr-feature-maps', 'occlusion', 'fr-feature', 'quality', 'antispoof', 'liveness'] as const) expect(runsOf(record, model)).toBe(0);
  });

  it('runs the whole analysis on a photo of one face', async () => {
    const record = stageRecord();
    const counted = await analyzeCounted(firstWith(1), models(), countingOptions, rules.detection, record);
    expect(counted.faceCount).toBe(1);
    expect(counted.analysis?.faces[0].crop.length).toBeGreaterThan(0);
    expect(stagesRun(record)).toEqual(expect.arrayContaining(['eyes', 'expression', 'occlusion', 'embed', 'quality', 'liveness', 'crop']));
  });
});
