/**
 * `npm run calibrate:motion [-- --photos 24 --out docs/video-liveness.md]`: the figures behind a
 * face-motion threshold for authentication videos. From real one-face photos of the shared set it
 * builds whole-picture replays (looped, panned, zoomed, rotated, tilted, noisy) and SYNTHETIC
 * non-rigid clips (the photo warped along its own mesh: a blink and a slight turn), samples frames as
 * the service does, measures `faceMotion` on the meshes and prints Markdown.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { type Config, loadConfig } from '../src/config';
import { loadModels, type ModelRegistry } from '../src/models/registry';
import { type AnalysisOptions, analyze } from '../src/pipeline/analyze';
import { type FaceMotion, faceMotion } from '../src/pipeline/face-motion';
import { meshBox } from '../src/pipeline/landmarks';
import type { Point3 } from '../src/pipeline/types';
import { type FrameOptions, videoFrames } from '../src/pipeline/video';
import { STILL_ATTACKS, type StillAttack, syntheticMotionVideo } from '../test/helpers/video';
import { FACES_DIR, type FaceRecord, faceManifest, facePath, facesAvailable, isCleanFrontal, isCopy, photoSetOptions } from './dataset';
import { markdownReport, runScript } from './markdown';

const { say, table, finish } = markdownReport();
const SECONDS = 3;
const NOT_REAL = ['cgi', 'cartoon', 'screen_recapture'];

type Kind = StillAttack | 'synthetic motion';
interface Measured {
  kind: Kind;
  file: string;
  /** A clean frontal portrait (`isCleanFrontal`): no occlusion, frontal, portrait size. */
  frontal: boolean;
  sampled: number;
  motion: FaceMotion;
}

const MEASURES: { key: 'nonRigid' | 'nonRigidLocal' | 'eyeOpennessRange' | 'mouthOpennessRange'; label: string }[] = [
  { key: 'nonRigid', label: 'non-rigid residual p90 / face RMS radius (`nonRigid`)' },
  { key: 'nonRigidLocal', label: 'non-rigid residual p99 / face RMS radius (`nonRigidLocal`)' },
  { key: 'eyeOpennessRange', label: 'eye-openness range (`eyeOpennessRange`)' },
  { key: 'mouthOpennessRange', label: 'mouth-openness range (`mouthOpennessRange`)' },
];

/** The photo cut to a selfie framing around its largest face (face about 45% of the width), so every clip shows the face at video-call size. */
async function selfieFraming(bytes: Buffer, models: ModelRegistry, options: AnalysisOptions): Promise<Buffer | undefined> {
  const analysis = await analyze(bytes, models, options);
  const [face] = analysis.faces;
  if (!face) return undefined;
  const box = meshBox(face.landmarks.mesh);
  const width = Math.min(box.width * 2.2, analysis.width);
  const height = Math.min(width * 1.25, analysis.height);
  const left = Math.round(Math.min(Math.max(box.x + box.width / 2 - width / 2, 0), analysis.width - width));
  const top = Math.round(Math.min(Math.max(box.y + box.height / 2 - height / 2, 0), analysis.height - height));
  return sharp(bytes)
    .rotate()
    .extract({ left, top, width: Math.floor(width), height: Math.floor(height) })
    .jpeg({ quality: 95 })
    .toBuffer();
}

async function meshesOf(video: Buffer, models: ModelRegistry, options: AnalysisOptions, frames: FrameOptions): Promise<{ sampled: number; meshes: Point3[][] }> {
  const stills = await videoFrames(video, frames);
  const meshes: Point3[][] = [];
  for (const still of stills) {
    const [face] = (await analyze(still, models, options)).faces;
    if (face) meshes.push(face.landmarks.mesh);
  }
  return { sampled: stills.length, meshes };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round((s.length - 1) * q)))];
};
const f4 = (x: number) => x.toFixed(4);

/** Clips left out of a measuring run, and why. */
const skippedClips: string[] = [];

async function measure(config: Config): Promise<Measured[]> {
  const at = process.argv.indexOf('--photos');
  const wanted = at >= 0 ? Number(process.argv[at + 1]) : 24;
  const options = photoSetOptions(config);
  const models = await loadModels(config.models);
  const eligible = faceManifest().filter((r: FaceRecord) => r.faces === 1 && !r.synthetic && !isCopy(r) && !r.tags.some((t) => NOT_REAL.includes(t)));
  // An even spread over the manifest's order, which groups photos by source.
  const photosChosen = Array.from({ length: Math.min(wanted, eligible.length) }, (_, i) => eligible[Math.floor((i * eligible.length) / Math.min(wanted, eligible.length))]);
  const results: Measured[] = [];
  const started = Date.now();
  for (const record of photosChosen) {
    const photo = await selfieFraming(readFileSync(facePath(record.file)), models, options);
    if (!photo) {
      skippedClips.push(`${record.file} (no face found in the photo)`);
      continue;
    }
    const clips: [Kind, () => Promise<Buffer>][] = [
      ...(Object.keys(STILL_ATTACKS) as StillAttack[]).map((kind): [Kind, () => Promise<Buffer>] => [kind, () => STILL_ATTACKS[kind](photo, SECONDS)]),
      ['synthetic motion', () => syntheticMotionVideo(photo, models, options, { seconds: SECONDS })],
    ];
    for (const [kind, make] of clips) {
      let video: Buffer;
      try {
        video = await make();
      } catch (error) {
        skippedClips.push(`${record.file} ${kind} (${error instanceof Error ? error.message : String(error)})`);
        continue;
      }
      const { sampled, meshes } = await meshesOf(video, models, options, config.video);
      results.push({ kind, file: record.file, frontal: isCleanFrontal(record), sampled, motion: faceMotion(meshes) });
    }
    console.error(`${record.file}: done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  await models.release();
  return results;
}

async function main(): Promise<void> {
  if (!facesAvailable) throw new Error(`the photo set is absent: ${FACES_DIR}`);
  const config = loadConfig();
  const load = process.argv.indexOf('--load');
  // `--save file` keeps the measurements; `--load file` re-renders the report from them without measuring again.
  const saved = load >= 0 ? (JSON.parse(readFileSync(process.argv[load + 1], 'utf8')) as Measured[] | { results: Measured[]; skipped: string[] }) : undefined;
  const results = saved ? (Array.isArray(saved) ? saved : saved.results) : await measure(config);
  const skipped = saved ? (Array.isArray(saved) ? [] : saved.skipped) : skippedClips;
  const save = process.argv.indexOf('--save');
  if (save >= 0) writeFileSync(process.argv[save + 1], JSON.stringify({ results, skipped }));

  const kinds: Kind[] = [...(Object.keys(STILL_ATTACKS) as StillAttack[]), 'synthetic motion'];
  const photos = new Set(results.map((r) => r.file)).size;
  const attacks = results.filter((r) => r.kind !== 'synthetic motion');
  const live = results.filter((r) => r.kind === 'synthetic motion');

  say('# Video liveness: face motion');
  say();
  say(
    `Produced by \`npm run calibrate:motion\` on ${photos} real one-face photos of \`${FACES_DIR.replace(/.*\/shared\//, '../shared/')}\` (manifest \`faces === 1\`, not synthetic, no copies, no CGI/cartoon/screen recaptures, spread evenly over the manifest). Each photo is cut to a selfie framing around its face (face about 45% of the width) and turned into ${SECONDS}-second 640-pixel-wide clips at 10 frames a second by \`test/helpers/video.ts\`. Frames are sampled as the service samples them (\`videoFrames\` with the configuration's \`video\` options: ${config.video.framesPerSecond} a second, at most ${config.video.maxFrames}), each frame is analysed by the service's \`analyze\`, and \`faceMotion\` (\`src/pipeline/face-motion.ts\`) is computed from the largest face's FaceMesh in every frame where one is found.`,
  );
  say();
  say('## What is measured');
  say();
  say(
    'A flat picture panned, zoomed, rotated or tilted in 3-D maps frame to frame by a homography. `faceMotion` fits, for each sampled frame after the first, the least-squares homography (normalised DLT) taking the first frame\'s 468 mesh points to that frame\'s, and takes the point residuals over the face size, the root-mean-square distance of the mesh points from their centroid (the inter-eye distance, tried first, shrinks when the face is turned and separated worse, see below). `nonRigid` is the largest, over frames, of the 90th percentile of those residuals; `nonRigidLocal` the same with the 99th percentile, which a motion of few points, such as a blink, reaches before the 90th. What a replayed still leaves is the landmark model\'s jitter between frames; a face that blinks or turns (the nose moves against the cheeks) leaves more. The eye- and mouth-openness ranges are reported alongside.',
  );
  say();
  say('## The clips');
  say();
  table(
    ['kind', 'how it is made', 'clips', 'frames with a face / sampled'],
    kinds.map((kind) => {
      const of = results.filter((r) => r.kind === kind);
      const how: Record<Kind, string> = {
        looped: 'the still repeated (`videoOfStill`)',
        panned: 'a 640-wide window sliding across the still scaled to 800 wide (`pannedStill`)',
        zoomed: 'zoom to 1.3x about the centre (`zoomedStill`)',
        rotated: 'in-plane rotation swinging ±12° (`rotatedStill`)',
        tilted: 'perspective warp growing to a 12% keystone, a photo turned about its vertical axis (`tiltedStill`)',
        noisy: 'the still with fresh noise every frame, `noise=alls=20:allf=t` (`noisyStill`)',
        'synthetic motion': 'SYNTHETIC: the still warped along its own mesh, a blink to 80% closed and a turn of ±10° (`syntheticMotionVideo`)',
      };
      return [kind, how[kind], of.length, `${of.reduce((s, r) => s + r.motion.frames, 0)} / ${of.reduce((s, r) => s + r.sampled, 0)}`];
    }),
  );
  if (skipped.length) {
    say(`Left out: ${skipped.join('; ')}.`);
    say();
  }

  say('## Distribution per kind');
  say();
  for (const { key, label } of MEASURES) {
    say(`### ${label}`);
    say();
    table(
      ['kind', 'min', 'median', '90th pct', 'max'],
      kinds.map((kind) => {
        const xs = results.filter((r) => r.kind === kind).map((r) => r.motion[key]);
        return xs.length ? [kind, f4(Math.min(...xs)), f4(quantile(xs, 0.5)), f4(quantile(xs, 0.9)), f4(Math.max(...xs))] : [kind, '-', '-', '-', '-'];
      }),
    );
  }

  say('## Separation and threshold');
  say();
  const frontal = (r: Measured) => r.frontal;
  const separation = (value: (r: Measured) => number, subset: (r: Measured) => boolean = () => true) => {
    const attackMax = Math.max(...attacks.filter(subset).map(value));
    const liveMin = Math.min(...live.filter(subset).map(value));
    return { attackMax, liveMin, ratio: liveMin / attackMax };
  };
  const secondFrame = (r: Measured) => [...r.motion.perFrame.map((f) => f.p90)].sort((a, b) => b - a)[1] ?? 0;
  const candidates: { label: string; value: (r: Measured) => number }[] = [
    ...MEASURES.map(({ key, label }) => ({ label, value: (r: Measured) => r.motion[key] })),
    { label: 'p90 residual / inter-eye distance instead of the RMS radius', value: (r) => Math.max(0, ...r.motion.perFrame.map((f) => (f.p90 * f.radius) / f.interEye)) },
    { label: 'p90 residual / RMS radius, second-largest frame instead of the largest', value: secondFrame },
  ];
  const frontalPhotos = new Set(results.filter(frontal).map((r) => r.file)).size;
  table(
    ['measure', 'attack max', 'synthetic-motion min', 'min / max', `same, clean frontal photos only (${frontalPhotos})`],
    candidates.map((c) => {
      const all = separation(c.value);
      const clean = separation(c.value, frontal);
      return [c.label, f4(all.attackMax), f4(all.liveMin), all.ratio.toFixed(2), `${f4(clean.attackMax)} / ${f4(clean.liveMin)} = ${clean.ratio.toFixed(2)}`];
    }),
  );
  const key = 'nonRigid' as const;
  const chosen = separation((r) => r.motion[key]);
  // Every attack refused with a margin: the geometric mean of the two edges when they separate, else 25% above the highest attack.
  const threshold = Number((chosen.ratio > 1.25 ** 2 ? Math.sqrt(chosen.attackMax * chosen.liveMin) : 1.25 * chosen.attackMax).toPrecision(2));
  const refused = attacks.filter((r) => r.motion[key] < threshold).length;
  const approved = live.filter((r) => r.motion[key] >= threshold).length;
  const approvedFrontal = live.filter((r) => r.frontal && r.motion[key] >= threshold).length;
  say(
    `Chosen: \`nonRigid\` (p90 residual over the face RMS radius, largest frame); the best-separating measure in the table above is ${candidates.reduce((a, b) => (separation(b.value).ratio > separation(a.value).ratio ? b : a)).label}. Attacks reach at most ${f4(chosen.attackMax)}, synthetic-motion clips at least ${f4(chosen.liveMin)} (ratio ${chosen.ratio.toFixed(2)}). Proposed threshold **${threshold}** (config key \`liveness.minFaceMotion\`; a clip refused when \`nonRigid\` is below it, and a clip with fewer than two frames with a face has zero motion): it refuses ${refused}/${attacks.length} attack clips and approves ${approved}/${live.length} synthetic-motion clips (${approvedFrontal}/${live.filter(frontal).length} of those from clean frontal photos).`,
  );
  say();
  say('The largest frame is kept rather than the second-largest although they separate these clips about equally: the service samples 2 frames a second, and a real blink may show in one sampled frame only.');
  say();
  table(
    ['kind', `at ${threshold}`, 'highest `nonRigid`', 'highest, clean frontal photos'],
    kinds.map((kind) => {
      const of = results.filter((r) => r.kind === kind);
      const top = (xs: Measured[]) => (xs.length ? f4(Math.max(...xs.map((r) => r.motion[key]))) : '-');
      const verdict = kind === 'synthetic motion' ? `approved ${of.filter((r) => r.motion[key] >= threshold).length}/${of.length}` : `refused ${of.filter((r) => r.motion[key] < threshold).length}/${of.length}`;
      return [kind, verdict, top(of), top(of.filter(frontal))];
    }),
  );
  const hardest = new Map<Kind, number>();
  for (const file of new Set(attacks.map((r) => r.file))) {
    const top = attacks.filter((r) => r.file === file).reduce((a, b) => (b.motion[key] > a.motion[key] ? b : a));
    hardest.set(top.kind, (hardest.get(top.kind) ?? 0) + 1);
  }
  say(
    `The attack that comes closest, per photo: ${[...hardest].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind} for ${n}`).join(', ')}. A keystoned face is a homography of the picture, but FaceMesh may read it as a face turned in 3-D and place its points with the parallax of its own face model, which a homography cannot follow (a likely reason, not tested separately).`,
  );
  say();
  say('Per photo, `nonRigid` of each clip (clean frontal photos marked ✓):');
  say();
  table(
    ['photo', 'frontal', ...kinds],
    [...new Set(results.map((r) => r.file))].map((file) => {
      const of = results.filter((r) => r.file === file);
      return [file, of[0].frontal ? '✓' : '', ...kinds.map((kind) => {
        const r = of.find((x) => x.kind === kind);
        return r ? f4(r.motion[key]) : '-';
      })];
    }),
  );

  say('## What this does and does not show');
  say();
  say(
    '- **The approved clips are synthetic.** No real video of a live person was measured here: the "synthetic motion" clips are still photos warped along their own FaceMesh by `syntheticMotionVideo`. They show that the measure responds to non-rigid motion of the size of a blink or a small turn, not what share of real selfie videos pass. Real clips (a person who holds still, a blink that falls between the two-a-second samples, motion blur, compression) must be measured before the threshold is trusted for false rejects.',
  );
  say(
    '- **An attacker who does the same warping passes.** Anyone with a photo of the victim and this kind of mesh warp (or any face-reenactment or deepfake tool) produces exactly the clips approved here. This check only refuses replays of a still picture moved as a whole (looped, panned, zoomed, rotated, tilted, re-noised). It is one layer among others: the liveness models, replay detection and recognition still apply.',
  );
  say(
    '- A printed photo bent or curled in front of the camera is not a homography either; such replays were not produced here.',
  );
  say('- The attacks are made from the same framing and at the same 640-pixel width as the synthetic clips; clips with the face much smaller in the frame, or longer clips (more frames, so more chances for a large jitter), were not measured.');
  finish();
}

runScript(main);
