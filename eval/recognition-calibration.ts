/**
 * `npm run calibrate:recognition [-- --out docs/recognition.md]`: the figures behind the
 * enroll/authenticate defaults (config `pipeline.embedding`, `recognition` and `liveness`): the
 * embedding models compared on genuine and impostor pairs of both shared photo sets, the
 * thresholds chosen for the configured model with a cross-validation over people, the similarity
 * a re-sent copy of an enrolled photo reaches (replay), and what the liveness models say about
 * real and attack-like faces. Prints Markdown.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { loadConfig } from '../src/config';
import { loadModels } from '../src/models/registry';
import { analyze, type FaceReport, locateFaces } from '../src/pipeline/analyze';
import { decodeImage } from '../src/pipeline/decode';
import { type EmbeddingModel, embedFaces, similarity } from '../src/pipeline/embed';
import type { RgbImage } from '../src/pipeline/types';
import { markdownReport, runScript } from './markdown';
import { EXTRA_DIR, FACES_DIR, type FaceRecord, faceManifest, facePath, facesAvailable, photoSetOptions } from './dataset';
import { equalErrorRate, falseAcceptRate, falseRejectRate, tarAtFar } from './metrics';
import { BARE_NAMED_PEOPLE, embedAll, pairScores, personFolds, type Population, recognitionFaces, thresholdFor } from './recognition-pairs';

const { say, table, finish } = markdownReport();
/** Percentages to two decimals, or to two significant digits below 0.1% (rates of one in tens of thousands). */
const pct = (x: number) => (x > 0 && x < 0.001 ? `${(100 * x).toPrecision(2)}%` : `${(100 * x).toFixed(2)}%`);
const count = (scores: number[], pass: (s: number) => boolean) => scores.filter(pass).length;
const shared = (dir: string) => dir.replace(/.*\/shared\//, '../shared/');

const CANDIDATES: { label: string; model: EmbeddingModel; mirror: boolean }[] = [
  { label: 'faceres (the previous default)', model: 'faceres', mirror: false },
  { label: 'faceres-deep', model: 'faceres-deep', mirror: false },
  { label: 'fr-feature', model: 'fr-feature', mirror: false },
  { label: 'fr-feature + mirror', model: 'fr-feature', mirror: true },
];

function tarCell(genuine: number[], impostor: number[], far: number): string {
  if (far * impostor.length < 1) return `n/a (${impostor.length} impostor pairs)`;
  const { tar } = tarAtFar(genuine, impostor, far);
  return `${pct(tar)} (${genuine.length - Math.round(tar * genuine.length)} missed)`;
}

/** Re-encodings a replayed photo could arrive as: the same picture, never a new capture. */
const REENCODINGS: { label: string; encode: (image: RgbImage) => Promise<Buffer> }[] = [
  { label: 'JPEG quality 90', encode: (i) => raw(i).jpeg({ quality: 90 }).toBuffer() },
  { label: 'JPEG quality 50', encode: (i) => raw(i).jpeg({ quality: 50 }).toBuffer() },
  { label: 'PNG', encode: (i) => raw(i).png().toBuffer() },
  { label: 'scaled to 70%, JPEG 80', encode: (i) => raw(i).resize(Math.round(i.width * 0.7)).jpeg({ quality: 80 }).toBuffer() },
  { label: 'cropped 5% each side, JPEG 80', encode: (i) => raw(i).extract({ left: Math.round(i.width * 0.05), top: Math.round(i.height * 0.05), width: Math.round(i.width * 0.9), height: Math.round(i.height * 0.9) }).jpeg({ quality: 80 }).toBuffer() },
];
function raw(image: RgbImage) {
  return sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } });
}

async function main(): Promise<void> {
  if (!facesAvailable) throw new Error(`the photo set is absent: ${FACES_DIR}`);
  const config = loadConfig();
  const options = photoSetOptions(config);
  const { recognition, liveness } = config;
  const chosen = config.pipeline.embedding;
  const models = await loadModels({ ...config.models, load: [...new Set([...config.models.load, ...CANDIDATES.map((c) => c.model)])] });
  const { faces, missed } = await recognitionFaces(models, options);
  const of = (population: Population) => faces.map((f, i) => (f.population === population ? i : -1)).filter((i) => i >= 0);
  const named = faces.map((f, i) => (f.population !== 'bare' ? i : -1)).filter((i) => i >= 0);
  const people = (indices: number[]) => new Set(indices.map((i) => faces[i].person)).size;

  say('# Recognition and liveness calibration');
  say();
  say(`Produced by \`npm run calibrate:recognition\` on \`${shared(FACES_DIR)}\` and \`${shared(EXTRA_DIR)}\`, with the service's own face location (largest face, mesh and iris landmarks) and default configuration.`);
  say();
  say('Populations:');
  say();
  say(`- **faces**: ${of('faces').length} photos of ${people(of('faces'))} named people of the shared set (copies of one photo left out).`);
  say(`- **identities**: ${of('identities').length} tight crops of ${people(of('identities'))} people from TV stills (faces-extra).`);
  say(`- **bare**: ${of('bare').length} unnamed bare faces of faces-extra (\`masks/bare\`, \`masks-real/bare\`). They make impostor pairs with the named people only, never with each other: that folder holds augmented copies of one photo (similarity above 0.98) and several photos of one celebrity, so two bare faces may well be one person. ${Object.keys(BARE_NAMED_PEOPLE).length} bare faces are, checked by eye, named people of the shared set and are left out: ${Object.entries(BARE_NAMED_PEOPLE).map(([file, who]) => `${file} (${who})`).join('; ')}.`);
  say(`- ${missed.length} photos in which no face was located are left out${missed.length ? `: ${missed.slice(0, 12).join(', ')}${missed.length > 12 ? ', …' : ''}` : ''}.`);
  say();

  say('## Embedding models compared');
  say();
  say('Similarity is the cosine of two L2-normalised embeddings, clipped to [0, 1]. faceres and faceres-deep take the square around the mesh (1.5 times its extent) as the service fed them; fr-feature takes the face put onto the ArcFace 112x112 five-point template (pupils, nose tip, mouth corners) by a similarity transform, RGB, (x − 127.5)/128; "+ mirror" adds the embedding of the mirrored crop before normalising. TAR is the share of genuine pairs accepted at the threshold that lets at most that share of impostor pairs through.');
  say();
  const embeddings = new Map<string, Float32Array[]>();
  const rows: (string | number)[][] = [];
  for (const candidate of CANDIDATES) {
    const e = await embedAll(faces, models, candidate.model, { mirror: candidate.mirror, regionScale: chosen.regionScale });
    embeddings.set(candidate.label, e);
    for (const [label, indices] of [['faces', of('faces')], ['identities', of('identities')], ['both sets + bare impostors', faces.map((_, i) => i)]] as const) {
      const { genuine, impostor } = pairScores(faces, e, [...indices]);
      const { eer, eerThreshold } = equalErrorRate(genuine, impostor);
      rows.push([candidate.label, label, genuine.length, impostor.length, `${pct(eer)} at ${eerThreshold.toFixed(3)}`, tarCell(genuine, impostor, 0.01), tarCell(genuine, impostor, 0.001), tarCell(genuine, impostor, 0.0001)]);
    }
  }
  table(['model', 'pairs of', 'genuine pairs', 'impostor pairs', 'EER', 'TAR @ FAR 1%', 'TAR @ FAR 0.1%', 'TAR @ FAR 0.01%'], rows);
  const configuredLabel = CANDIDATES.find((c) => c.model === chosen.model && c.mirror === chosen.mirror)?.label ?? chosen.model;
  say(`The service uses **${configuredLabel}** (config \`pipeline.embedding\`). It costs about a third of faceres's compute (~221 vs 568 MMAC; \`npm run bench:models\`), twice with the mirror.`);
  say();

  const service = embeddings.get(configuredLabel) ?? (await embedAll(faces, models, chosen.model, chosen));
  const all = pairScores(faces, service);
  say('## Thresholds');
  say();
  // Tenfold margins under the requirements (FAR 0.1% to authenticate, 0.01% for the duplicate
  // search), because people never seen may sit closer together than these.
  const authAt = thresholdFor(all.impostor, 0.0001);
  const duplicateAt = thresholdFor(all.impostor, 0);
  say(`Rules: authentication takes the lowest threshold (0.005 steps) with at most 0.01% false accepts on all ${all.impostor.length} impostor pairs, ten times stricter than the 0.1% required; the duplicate-face search takes the lowest threshold above every impostor pair (0 of ${all.impostor.length}, under ${pct(1 / all.impostor.length)}, against 0.01% required), since it compares a new face with every enrolled one. On these pairs the rules give ${authAt} and ${duplicateAt}; the configuration uses ${recognition.threshold} to authenticate and ${recognition.duplicateThreshold} for the duplicate search.`);
  say();
  const grid = [...new Set([0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, authAt, duplicateAt, recognition.threshold, recognition.duplicateThreshold])].sort((a, b) => a - b);
  const mark = (t: number) => [t === recognition.threshold ? 'authenticate' : '', t === recognition.duplicateThreshold ? 'duplicate search' : ''].filter(Boolean).join(', ');
  const perPopulation = (t: number) =>
    (['faces', 'identities'] as const).map((p) => {
      const s = pairScores(faces, service, of(p));
      return `${count(s.genuine, (x) => x < t)}/${s.genuine.length}`;
    });
  table(
    ['threshold', 'false accepts', 'false rejects', 'rejects: faces', 'rejects: identities', 'default for'],
    grid.map((t) => [t, `${pct(falseAcceptRate(all.impostor, t))} (${count(all.impostor, (s) => s >= t)})`, `${pct(falseRejectRate(all.genuine, t))} (${count(all.genuine, (s) => s < t)})`, ...perPopulation(t), mark(t)]),
  );
  const top = [...all.impostor].sort((a, b) => b - a).slice(0, 5);
  const lowGenuine = [...all.genuine].sort((a, b) => a - b).slice(0, 5);
  say(`The highest impostor similarities: ${top.map((s) => s.toFixed(3)).join(', ')}; the lowest genuine ones: ${lowGenuine.map((s) => s.toFixed(3)).join(', ')}.`);
  say();

  say('### Cross-validated over people');
  say();
  say('Each of 5 folds of people is held out in turn: the two thresholds are chosen by the rules above on the pairs among the other folds\' people, then counted on the pairs among the held-out people, who took no part in the choice.');
  say();
  const folds = personFolds(faces, 5);
  const held = { authFa: 0, authFr: 0, dupFa: 0, dupFr: 0, genuine: 0, impostor: 0 };
  const foldRows: (string | number)[][] = [];
  folds.forEach((fold, k) => {
    const rest = folds.filter((_, j) => j !== k).flat();
    const fit = pairScores(faces, service, rest);
    const test = pairScores(faces, service, fold);
    const t1 = thresholdFor(fit.impostor, 0.0001);
    const t2 = thresholdFor(fit.impostor, 0);
    const row = { authFa: count(test.impostor, (s) => s >= t1), authFr: count(test.genuine, (s) => s < t1), dupFa: count(test.impostor, (s) => s >= t2), dupFr: count(test.genuine, (s) => s < t2) };
    held.authFa += row.authFa;
    held.authFr += row.authFr;
    held.dupFa += row.dupFa;
    held.dupFr += row.dupFr;
    held.genuine += test.genuine.length;
    held.impostor += test.impostor.length;
    foldRows.push([k + 1, people(fold), test.genuine.length, test.impostor.length, t1, `${row.authFa} / ${row.authFr}`, t2, `${row.dupFa} / ${row.dupFr}`]);
  });
  table(['fold', 'people', 'genuine pairs', 'impostor pairs', 'authentication threshold', 'false accepts / rejects', 'duplicate threshold', 'false accepts / rejects'], foldRows);
  say(`Held out, summed over the folds: at the authentication threshold ${held.authFa} of ${held.impostor} impostor pairs accepted (${pct(held.authFa / held.impostor)}) and ${held.authFr} of ${held.genuine} genuine pairs rejected (TAR ${pct(1 - held.authFr / held.genuine)}); at the duplicate threshold ${held.dupFa} accepted (${pct(held.dupFa / held.impostor)}) and ${held.dupFr} rejected (TAR ${pct(1 - held.dupFr / held.genuine)}).`);
  say();
  // With no false accept among N pairs, 3/N is the 95% upper bound of the rate (the rule of three).
  const duplicateFar = Math.max(falseAcceptRate(all.impostor, recognition.duplicateThreshold), 3 / all.impostor.length);
  const falseDuplicate = (enrolled: number) => pct(1 - (1 - duplicateFar) ** enrolled);
  say(`The duplicate search compares a new face with every enrolled one: with a per-pair false-accept rate p, N enrolled people give about 1 − (1 − p)^N odds of a false FACE_ALREADY_ENROLLED. At ${recognition.duplicateThreshold} (p at most ${pct(duplicateFar)} here, the 95% upper bound these pairs allow) that is ${falseDuplicate(1000)} for 1,000 people and ${falseDuplicate(10000)} for 10,000.`);
  say();

  say('## Replay: how close a re-sent copy of an enrolled photo comes');
  say();
  const copies: { label: string; scores: number[]; lost: number }[] = [];
  const runner = models.get(chosen.model);
  for (const variant of REENCODINGS) {
    const scores: number[] = [];
    let lost = 0;
    for (const i of named) {
      const image = await decodeImage(await variant.encode(faces[i].image), options.limits);
      const [found] = await locateFaces(image, models, options.detection);
      if (!found) {
        lost++;
        continue;
      }
      const [copy] = await embedFaces(image, [found.landmarks], runner, chosen);
      scores.push(similarity(copy, service[i]));
    }
    copies.push({ label: variant.label, scores, lost });
  }
  const namedPairs = pairScores(faces, service, named);
  const maxGenuine = Math.max(...namedPairs.genuine);
  table(
    ['the same photo, re-sent as', 'copies', 'lowest similarity to the original', 'median', `refused (≥ ${recognition.replaySimilarity})`],
    copies.map((c) => {
      const sorted = [...c.scores].sort((a, b) => a - b);
      const refused = count(c.scores, (x) => x >= recognition.replaySimilarity);
      return [c.label, c.scores.length, sorted[0].toFixed(4), sorted[Math.floor(sorted.length / 2)].toFixed(4), `${refused} (${pct(refused / c.scores.length)})`];
    }),
  );
  const minCopy = Math.min(...copies.flatMap((c) => c.scores));
  say(`Two different photos of one person (${namedPairs.genuine.length} genuine pairs of the named people) reach at most ${maxGenuine.toFixed(4)}; a re-encoded copy of one photo reaches at least ${minCopy.toFixed(4)}, so no level separates every copy from every genuine pair. The service refuses a probe as REPLAYED_IMAGE at similarity ≥ ${recognition.replaySimilarity} to an enrolled template (config \`recognition.replaySimilarity\`): a margin above the closest genuine pair, so a new capture is not refused, at the price of letting the most degraded copies through to the other checks. The enrolled bytes themselves, and an enrolled \`image_key\`, are refused whatever the similarity; identical decoded pixels give identical embeddings (similarity 1).`);
  say();
  say('What this stops, and what it does not:');
  say();
  say('- It stops the replays a client of the API can make without a camera: an enrolled `image_key` (any key holder can list them at `GET /api/users/{name}`), the enrolled file downloaded from `/face_recognition/image/{key}/file` and sent back, and that file re-encoded, resized or cropped a little. A video made of the enrolled photo is refused the same way when its frames stay that close, and by the motion check in any case.');
  say('- It does not stop a *different* photo of the person (from social media, say): that is a genuine new capture as far as the embedding can tell. Nor a photo of a screen or a print showing the enrolled photo, whose similarity falls below the replay level once the recapture degrades it enough. Those are presentation attacks: the motion check on videos and the liveness models are the layers meant for them, and they are weak on stills (below). A bank should authenticate by video.');
  say('- Two genuine captures never came within the replay level here, but identical twins or a burst of near-identical frames from one camera could: such a probe is refused as a replay rather than accepted, which is the safe side.');
  say();

  await livenessSection(config.liveness, models);
  await models.release();
  finish();

  async function livenessSection(limits: typeof liveness, registry: typeof models): Promise<void> {
    const analysed: { record: FaceRecord; face: FaceReport }[] = [];
    for (const record of faceManifest()) {
      const [face] = (await analyze(readFileSync(facePath(record.file)), registry, options)).faces;
      if (face) analysed.push({ record, face });
    }
    say('## Liveness of still photos');
    say();
    const attackTags = ['cgi', 'cartoon', 'screen_recapture'];
    const real = analysed.filter((f) => !f.record.synthetic && !f.record.tags.some((t) => attackTags.includes(t)));
    const attacks = analysed.filter((f) => f.record.synthetic || f.record.tags.some((t) => attackTags.includes(t)));
    const fails = (f: FaceReport) => f.liveness.antispoof < limits.minAntispoof || f.liveness.liveness < limits.minLiveness;
    const share = (set: typeof real, rejected: (f: FaceReport) => boolean) => `${set.filter((f) => rejected(f.face)).length}/${set.length} (${pct(set.filter((f) => rejected(f.face)).length / set.length)})`;
    say(`A face passes when antispoof ≥ ${limits.minAntispoof} and liveness ≥ ${limits.minLiveness} (config \`liveness\`). Still images are checked only when \`liveness.stills\` is true (default ${limits.stills}); videos are checked by these scores and by the face's own motion across frames (docs/video-liveness.md).`);
    say();
    table(
      ['threshold', 'antispoof: real photos rejected', 'antispoof: non-real faces rejected', 'liveness: real photos rejected', 'liveness: non-real faces rejected'],
      [0.2, 0.3, 0.4, 0.5, 0.6, 0.7].map((t) => [t === limits.minAntispoof && t === limits.minLiveness ? `**${t}** (default)` : t, share(real, (f) => f.liveness.antispoof < t), share(attacks, (f) => f.liveness.antispoof < t), share(real, (f) => f.liveness.liveness < t), share(attacks, (f) => f.liveness.liveness < t)]),
    );
    table(
      ['photo', 'tags', 'antispoof', 'liveness', 'at the defaults'],
      attacks.map((f) => [f.record.file, f.record.tags.join(', '), f.face.liveness.antispoof.toFixed(3), f.face.liveness.liveness.toFixed(3), fails(f.face) ? 'rejected' : 'passes']),
    );
    say(`At the defaults ${attacks.filter((f) => fails(f.face)).length} of ${attacks.length} non-real faces are rejected, against ${real.filter((f) => fails(f.face)).length} of ${real.length} real ones: these scores are weak signals, which is why still-image liveness is off by default and videos must also show the face moving.`);
    say();
  }
}

runScript(main);
