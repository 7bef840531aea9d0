/**
 * `npm run calibrate:recognition [-- --out docs/recognition.md]`: the figures behind the
 * enroll/authenticate defaults (config `recognition` and `liveness`): false accepts and false
 * rejects of the similarity threshold on genuine and impostor pairs of the shared photo set, as
 * the service computes them, and what the liveness models say about real, recaptured and
 * synthetic faces. Prints Markdown.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../src/config';
import { loadModels } from '../src/models/registry';
import { analyze, type FaceReport } from '../src/pipeline/analyze';
import { similarity } from '../src/pipeline/embed';
import { markdownReport, runScript } from './markdown';
import { FACES_DIR, type FaceRecord, faceManifest, facePath, facesAvailable, isCopy, photoSetOptions } from './dataset';
import { equalErrorRate, falseAcceptRate, falseRejectRate } from './metrics';

const { say, table, finish } = markdownReport();
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;


async function main(): Promise<void> {
  if (!facesAvailable) throw new Error(`the photo set is absent: ${FACES_DIR}`);
  const config = loadConfig();
  const options = photoSetOptions(config);
  const models = await loadModels(config.models);
  const faces: { record: FaceRecord; face: FaceReport }[] = [];
  for (const record of faceManifest()) {
    const [face] = (await analyze(readFileSync(facePath(record.file)), models, options)).faces;
    if (face) faces.push({ record, face });
  }
  await models.release();
  const { recognition, liveness } = config;

  say('# Recognition and liveness calibration');
  say();
  say(`Produced by \`npm run calibrate:recognition\` on \`${FACES_DIR.replace(/.*\/shared\//, '../shared/')}\`, with the service's own analysis (largest face, ${config.pipeline.embedding.model} embedding, default configuration).`);
  say();
  say('## Similarity threshold');
  say();
  const people = faces.filter((f) => f.record.identity && !isCopy(f.record));
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (let i = 0; i < people.length; i++) {
    for (let j = i + 1; j < people.length; j++) {
      const s = similarity(people[i].face.embedding, people[j].face.embedding);
      (people[i].record.identity === people[j].record.identity ? genuine : impostor).push(s);
    }
  }
  const identities = new Set(people.map((p) => p.record.identity)).size;
  const { eer, eerThreshold } = equalErrorRate(genuine, impostor);
  say(`${people.length} photos of ${identities} people (copies of one photo left out): ${genuine.length} genuine pairs, ${impostor.length} impostor pairs. Equal error rate ${pct(eer)} at ${eerThreshold.toFixed(3)}. Similarity is the cosine of the two embeddings, clipped to [0, 1].`);
  say();
  const thresholds = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7];
  const mark = (t: number) => [t === recognition.threshold ? 'authenticate' : '', t === recognition.duplicateThreshold ? 'duplicate search' : ''].filter(Boolean).join(', ');
  table(
    ['threshold', 'false accepts (FAR)', 'false rejects (FRR)', 'default for'],
    [...new Set([...thresholds, recognition.threshold, recognition.duplicateThreshold])].sort((a, b) => a - b).map((t) => [t, `${pct(falseAcceptRate(impostor, t))} (${impostor.filter((s) => s >= t).length})`, `${pct(falseRejectRate(genuine, t))} (${genuine.filter((s) => s < t).length})`, mark(t)]),
  );
  const sortedImpostor = [...impostor].sort((a, b) => b - a);
  say(`The highest impostor similarities: ${sortedImpostor.slice(0, 5).map((s) => s.toFixed(3)).join(', ')}. With ${impostor.length} impostor pairs, a false accept rate under ${pct(1 / impostor.length)} cannot be measured here.`);
  say();

  const far = falseAcceptRate(impostor, recognition.threshold);
  const frr = falseRejectRate(genuine, recognition.threshold);
  const duplicateFar = falseAcceptRate(impostor, recognition.duplicateThreshold);
  const falseDuplicate = (enrolled: number) => pct(1 - (1 - Math.max(duplicateFar, 1 / impostor.length)) ** enrolled);
  say(`Authentication uses ${recognition.threshold}: ${pct(far)} false accepts for ${pct(frr)} false rejects on these pairs, the lowest threshold of the table with false accepts under 1%. The duplicate search at enrollment uses ${recognition.duplicateThreshold}, higher, because it compares a new face with every enrolled one: with a per-pair false accept rate p, N enrolled people give about 1 - (1 - p)^N odds of a false FACE_ALREADY_ENROLLED. At ${recognition.duplicateThreshold} (p at most ${pct(Math.max(duplicateFar, 1 / impostor.length))} here) that is ${falseDuplicate(10)} for 10 people and ${falseDuplicate(100)} for 100: raise the threshold, or turn the search off (\`recognition.duplicateSearch\`), as the register grows.`);
  say();

  say('## Liveness');
  say();
  const real = faces.filter((f) => !f.record.synthetic && !f.record.tags.some((t) => ['cgi', 'cartoon', 'screen_recapture'].includes(t)));
  const attacks = faces.filter((f) => f.record.synthetic || f.record.tags.some((t) => ['cgi', 'cartoon', 'screen_recapture'].includes(t)));
  const fails = (f: FaceReport) => f.liveness.antispoof < liveness.minAntispoof || f.liveness.liveness < liveness.minLiveness;
  const share = (set: typeof real, rejected: (f: FaceReport) => boolean) => `${set.filter((f) => rejected(f.face)).length}/${set.length} (${pct(set.filter((f) => rejected(f.face)).length / set.length)})`;
  const rows = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7].map((t) => [
    t === liveness.minAntispoof && t === liveness.minLiveness ? `**${t}** (default)` : t,
    share(real, (f) => f.liveness.antispoof < t),
    share(attacks, (f) => f.liveness.antispoof < t),
    share(real, (f) => f.liveness.liveness < t),
    share(attacks, (f) => f.liveness.liveness < t),
  ]);
  say(`A face passes when antispoof ≥ ${liveness.minAntispoof} and liveness ≥ ${liveness.minLiveness} (config \`liveness\`); checked on every video by default, on still images only when \`liveness.stills\` is true.`);
  say();
  table(['threshold', 'antispoof: real photos rejected', 'antispoof: non-real faces rejected', 'liveness: real photos rejected', 'liveness: non-real faces rejected'], rows);
  say(`At the defaults, ${real.filter((f) => fails(f.face)).length} of ${real.length} real photos fail (${pct(real.filter((f) => fails(f.face)).length / real.length)}). Every non-real face, one by one:`);
  say();
  table(
    ['photo', 'tags', 'antispoof', 'liveness', 'at the defaults'],
    attacks.map((f) => [f.record.file, f.record.tags.join(', '), f.face.liveness.antispoof.toFixed(3), f.face.liveness.liveness.toFixed(3), fails(f.face) ? 'rejected' : 'passes']),
  );
  const stopped = attacks.filter((f) => fails(f.face)).length;
  say(`At the defaults ${stopped} of ${attacks.length} non-real faces are rejected, against ${real.filter((f) => fails(f.face)).length} of ${real.length} real ones.`);
  say();

  finish();
}

runScript(main);
