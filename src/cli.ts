import { SingleBar } from 'cli-progress';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { analysisOptions, loadConfig } from './config';
import { loadModels } from './models/registry';
import { analyze, detectingFrom, type FaceAnalysis } from './pipeline/analyze';
import { ImageError, sniffFormat } from './pipeline/decode';
import { profileOutliers } from './scan/outliers';
import { AnalysisPool } from './pipeline/analysis-pool';
import { type ProfiledImage, profileImage } from './scan/profile';
import { scanReport } from './scan/report';
import { embeddingSpace } from './models/manifest';
import { faceSummaries } from './face-summary';
import { formatDuration, SmoothedEta } from './scan/eta';
import { rebuildTemplates } from './service/rebuild-templates';
import { openStore, sealExisting } from './store';
import { Sealer } from './store/sealer';

const USAGE = `usage:
  facegate analyze <image...> [--crop out.jpg] [--summary]
                                  one JSON object per image; --summary: one readable line per face
  facegate scan <folder> --out report.html [--workers N] [--contamination 0.05]
  facegate templates:rebuild      re-embeds stored enrollments with the configured model
  facegate encrypt-existing       seals every image, template and scan file stored in clear or in the
                                  first sealed format with FACEGATE_ENCRYPTION_KEY (run it once, server stopped)`;

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

async function analyzeCommand(argv: string[]): Promise<number> {
  const summary = argv.includes('--summary');
  const args = argv.filter((arg) => arg !== '--summary');
  const cropIndex = args.indexOf('--crop');
  const crop = cropIndex >= 0 ? args[cropIndex + 1] : undefined;
  if (cropIndex >= 0 && !crop) throw new Error(`--crop needs a file name\n${USAGE}`);
  const files = args.filter((_, i) => cropIndex < 0 || (i !== cropIndex && i !== cropIndex + 1));
  if (files.length === 0) throw new Error(USAGE);

  const config = loadConfig();
  const models = await loadModels(config.models);
  // The summary's verdicts count faces as the gate routes do: detected down to the gates' thresholds.
  const options = summary ? detectingFrom(analysisOptions(config), Math.min(config.gate.fiqa.detection, config.gate.photo.detection)) : analysisOptions(config);
  let failures = 0;
  for (const [index, file] of files.entries()) {
    try {
      const analysis = await analyze(readFileSync(file), models, options);
      if (summary) for (const line of faceSummaries(file, analysis, config.gate)) console.log(line);
      else console.log(JSON.stringify(printable(file, analysis)));
      if (crop && analysis.faces.length > 0) writeFileSync(cropPath(crop, index, files.length), analysis.faces[0].crop);
    } catch (error) {
      failures++;
      const reason = error instanceof ImageError ? `${error.code}: ${error.message}` : (error as Error).message;
      console.log(summary ? `${file}: error ${reason}` : JSON.stringify({ file, error: reason }));
    }
  }
  await models.release();
  return failures === 0 ? 0 : 1;
}

/** The value after `--name`, or undefined when the flag is absent. */
function flag(args: string[], name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`--${name} needs a value\n${USAGE}`);
  args.splice(at, 2);
  return value;
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** Profiles every image under a folder on all cores, with a progress bar, and writes the HTML report. */
async function scanCommand(args: string[]): Promise<number> {
  const out = flag(args, 'out');
  const workers = Number(flag(args, 'workers') ?? availableParallelism());
  const config = loadConfig();
  const contamination = Number(flag(args, 'contamination') ?? config.scan.contamination);
  const [folder, ...extra] = args;
  if (!folder || !out || extra.length > 0) throw new Error(USAGE);
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${folder} is not a folder`);
  if (!(Number.isInteger(workers) && workers >= 1)) throw new Error('--workers must be a whole number from 1');
  if (!(contamination > 0 && contamination <= 0.5)) throw new Error('--contamination must be above 0 and at most 0.5');

  const pool = new AnalysisPool({ models: { ...config.models, intraOpThreads: 1 } }, { size: workers, idleMs: null, youngGenerationMb: config.models.workerYoungGenerationMb });
  const options = analysisOptions(config);
  const files = filesUnder(folder);
  const bar = new SingleBar({
    format: 'scanning [{bar}] {value}/{total} files | {percentage}% | ETA {smoothedEta}',
    stream: process.stderr,
    noTTYOutput: true,
    notTTYSchedule: 5000,
  });
  const started = new Date();
  // cli-progress's own ETA jumps with each burst of workers finishing together: ours is smoothed.
  const eta = new SmoothedEta(started.getTime());
  bar.start(files.length, 0, { smoothedEta: formatDuration(null) });
  const profiled: ProfiledImage[] = [];
  const failures: { file: string; error: string }[] = [];
  const skipped: string[] = [];
  let next = 0;
  let done = 0;
  const lane = async () => {
    for (let i = next++; i < files.length; i = next++) {
      const name = relative(folder, files[i]);
      const bytes = readFileSync(files[i]);
      if (!sniffFormat(bytes)) skipped.push(name);
      else {
        await profileImage(name, bytes, pool, options, config.scan.thumbnailSize).then(
          (r) => profiled.push(r),
          (error: Error) => failures.push({ file: name, error: error.message }),
        );
      }
      eta.done(1, Date.now());
      bar.increment({ smoothedEta: formatDuration(eta.secondsLeft(files.length - ++done)) });
    }
  };
  await Promise.all(Array.from({ length: workers }, lane)).finally(() => pool.close());
  bar.stop();

  const byName = (p: ProfiledImage, q: ProfiledImage) => String(p.profile.file).localeCompare(String(q.profile.file));
  profiled.sort(byName);
  const profiles = profiled.map((r) => r.profile);
  const outliers = profileOutliers(profiles, contamination);
  const thumbnails = new Map(outliers.outliers.map((o) => [String(profiles[o.index].file), profiled[o.index].thumbnail]));
  const finishedAt = new Date().toISOString();
  writeFileSync(out, await scanReport({ collection: folder, createdAt: started.toISOString(), finishedAt, profiles, failures, outliers, contamination, thumbnails }));
  const seconds = (Date.now() - started.getTime()) / 1000;
  console.log(
    `${profiles.length} images profiled, ${failures.length} failed, ${skipped.length} other files skipped, ` +
      `${outliers.outliers.length} outliers, in ${seconds.toFixed(1)} s: report ${out}`,
  );
  return 0;
}

/**
 * Moves every enrollment onto the configured embedding model, from the stored original images.
 * Run it with the server stopped or running: each user is rewritten in one transaction.
 */
async function rebuildTemplatesCommand(args: string[]): Promise<number> {
  if (args.length > 0) throw new Error(USAGE);
  const config = loadConfig();
  const store = await openStore({ ...config.store, defaultClient: config.auth.defaultClient }, Sealer.fromEnvironment());
  const models = await loadModels(config.models);
  const options = analysisOptions(config);
  const space = embeddingSpace(config.models.dir, options.embedding.model);
  const bar = new SingleBar({ format: 'rebuilding templates [{bar}] {value}/{total} users | ETA {eta_formatted}', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 5000 });
  try {
    const outcome = await rebuildTemplates(
      store,
      (bytes) => analyze(bytes, models, { ...options, limits: { ...options.limits, maxBytes: Infinity } }),
      space,
      { detection: config.gate.fiqa.detection, dominantFace: config.recognition.dominantFace },
      (done, total) => (done === 0 ? bar.start(total, 0) : bar.update(done)),
    );
    bar.stop();
    for (const f of outcome.failed) console.log(`not moved: ${f.username} of client ${f.client}: ${f.reason}`);
    console.log(`${outcome.rebuilt.length} users moved to ${space.model} (${space.modelVersion}), ${outcome.failed.length} left as they were`);
    // The server's duplicate-search index lives in its own memory, read from the database at start-up.
    if (outcome.rebuilt.length > 0) console.log('a server running now finds the moved templates in its duplicate search once restarted');
    return outcome.failed.length === 0 ? 0 : 1;
  } finally {
    await store.close();
    await models.release();
  }
}

/** Seals in place what an earlier run stored in clear or in the first sealed format; idempotent. */
async function encryptExistingCommand(args: string[]): Promise<number> {
  if (args.length > 0) throw new Error(USAGE);
  const sealer = Sealer.fromEnvironment();
  if (!sealer.encrypts) throw new Error('encrypt-existing needs FACEGATE_ENCRYPTION_KEY: the key the server will run with');
  const store = await openStore(loadConfig().store, sealer);
  const bar = new SingleBar({ format: 'encrypting [{bar}] {value}/{total} stored blobs | ETA {eta_formatted}', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 5000 });
  try {
    const outcome = sealExisting(store, (done, total) => (done === 0 ? bar.start(total, 0) : bar.update(done)));
    bar.stop();
    console.log(`${outcome.sealed} blobs sealed, ${outcome.unchanged} already sealed with this key`);
    return 0;
  } finally {
    await store.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === 'analyze') return analyzeCommand(args);
  if (command === 'scan') return scanCommand(args);
  if (command === 'templates:rebuild') return rebuildTemplatesCommand(args);
  if (command === 'encrypt-existing') return encryptExistingCommand(args);
  throw new Error(USAGE);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`facegate: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
