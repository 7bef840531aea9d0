import Ajv from 'ajv';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ModelName } from '../models/catalog';
import type { FiqaThresholds } from '../gate/fiqa';
import type { PhotoRules } from '../gate/photo-rules';
import type { AnalysisOptions } from '../pipeline/analyze';
import type { FrameOptions } from '../pipeline/video';

export interface Config {
  server: {
    host: string;
    port: number;
    shutdownGraceMs: number;
    requestTimeoutMs: number;
    corsOrigins: string[];
    /** Browsers reach the service over HTTPS only: HSTS, upgrade-insecure-requests and COOP are sent. */
    https: boolean;
  };
  log: {
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    /** File in the data folder with the secret keying the hashes that stand for users in the logs. */
    identitySecretFile: string;
  };
  store: {
    dataDir: string;
    busyTimeoutMs: number;
    unenrolledImageHours: number;
    requireEncryption: boolean;
    scanHours: number;
    /** Empty: SQLite in dataDir; a postgres:// URL: that PostgreSQL database. */
    databaseUrl: string;
    postgres: PostgresConfig;
  };
  models: { dir: string; load: ModelName[]; workers: number; workerYoungGenerationMb: number; intraOpThreads: number; interOpThreads: number };
  limits: {
    maxImageBytes: number;
    maxImagePixels: number;
    maxImagesPerRequest: number;
    maxConcurrentAnalyses: number;
    maxQueuedAnalyses: number;
    maxQueueWaitMs: number;
    clientPresenceMs: number;
    bodyTimeoutMs: number;
    maxConcurrentUploadsPerClient: number;
    maxPixelsPerRequest: number;
    maxAnalysisPixels: number;
    analysisTimeoutMs: number;
    requestsPerKeyPerMinute: number;
  };
  auth: AuthConfig;
  gate: { fiqa: FiqaThresholds; photo: PhotoRules };
  recognition: RecognitionConfig;
  liveness: LivenessConfig;
  video: VideoConfig;
  scan: ScanConfig;
  metrics: MetricsConfig;
  pipeline: Omit<AnalysisOptions, 'limits'>;
}

/** The PostgreSQL backend's connection pool (src/store/postgres); ignored with SQLite. */
export interface PostgresConfig {
  poolSize: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
}

export type ApiFamily = 'nodeflux' | 'qitech' | 'enroll' | 'scan';

export interface RecognitionConfig {
  threshold: number;
  duplicateSearch: boolean;
  duplicateThreshold: number;
  duplicateIndex: DuplicateIndexConfig;
  replaySimilarity: number;
  minIpd: number;
  dominantFace: number;
  rejectionScores: 'none' | 'admin' | 'all';
  templateFeed: TemplateFeedConfig;
}

export interface TemplateFeedConfig {
  /** How often the duplicate search reads template changes committed by other processes. */
  pollMs: number;
  /** Changes older than this are erased, all but the latest; a process that finds some missing after the last it applied reads its indexes afresh. */
  keepMinutes: number;
}

/** How the duplicate-face search scales (src/service/duplicate-search.ts). */
export interface DuplicateIndexConfig {
  /** Live templates of a client below which its search is an exact full-precision scan. */
  exactBelow: number;
  /** Live templates of a client from which its search goes through the ANN graph; between the two, a scan of sign bits. */
  graphFrom: number;
  /** Templates the sign-bit scan proposes for exact re-scoring. */
  signBitCandidates: number;
  /** Templates the graph proposes for exact re-scoring. */
  candidates: number;
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  quantisation: 'f32' | 'f16' | 'i8';
  /** Templates added to a graph per turn of the event loop while it is being filled. */
  buildBatch: number;
}

export interface LivenessConfig {
  videos: boolean;
  stills: boolean;
  minAntispoof: number;
  minLiveness: number;
  minFaceMotion: number;
}

export interface VideoConfig extends FrameOptions {
  bestFrames: number;
}

export interface ScanConfig {
  /** Analysis worker threads, each with its own model sessions. */
  workers: number;
  /** onnxruntime intra-op threads of each worker. */
  threadsPerWorker: number;
  /** An idle worker is stopped after this long, freeing its models' memory. */
  idleWorkerMs: number;
  maxFiles: number;
  /** All parts of one upload request together, as received. */
  maxUploadBytes: number;
  /** All images of one upload together, its zip archives unpacked. */
  maxExtractedBytes: number;
  maxCompressionRatio: number;
  /** A file still unfinished after this many attempts (the service stopped during each) is marked failed. */
  maxAttempts: number;
  /** A file taken for analysis is the taking scanner's this long; then any replica's scanner may take it again. */
  leaseSeconds: number;
  /** How often an idle scanner looks for files (other replicas' uploads, leases run out). */
  pollMs: number;
  thumbnailSize: number;
  contamination: number;
}

export interface MetricsConfig {
  /** null: `/metrics` on the service's own port; a port: on a listener of its own at `host:port`, and not on the service's port. */
  port: number | null;
  host: string;
  requireAdminKey: boolean;
}

export interface AuthConfig {
  /** Plain keys until `createKeyring` has taken them; empty afterwards. */
  apiKeys: string[];
  adminKeys: string[];
  defaultClient: string;
  /** Client apps by id: each owns the data its keys create. */
  clients: Record<string, { apiKeys: string[]; adminKeys?: string[] }>;
  /** Name of the generated key's file in the data folder. */
  keyFile: string;
  required: Record<ApiFamily, boolean>;
}

export class ConfigError extends Error {}

/** Environment variables that override one config key each, by JSON pointer. */
export const ENV_OVERRIDES: Record<string, string> = {
  FACEGATE_HOST: '/server/host',
  FACEGATE_PORT: '/server/port',
  FACEGATE_HTTPS: '/server/https',
  FACEGATE_LOG_LEVEL: '/log/level',
  FACEGATE_DATA_DIR: '/store/dataDir',
  FACEGATE_DATABASE_URL: '/store/databaseUrl',
  FACEGATE_MODELS_DIR: '/models/dir',
  FACEGATE_THREADS: '/models/intraOpThreads',
  FACEGATE_WORKERS: '/models/workers',
};

/** Environment variables holding comma-separated lists, added to the list at the pointer. */
export const ENV_LISTS: Record<string, string> = {
  FACEGATE_API_KEYS: '/auth/apiKeys',
  FACEGATE_ADMIN_KEYS: '/auth/adminKeys',
};

/** The folder holding package.json, from src/config or dist/src/config alike. */
export const PROJECT_ROOT = ((): string => {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'config', 'default.json'))) return dir;
  }
  throw new ConfigError(`cannot find the project root above ${__dirname}`);
})();

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function readJson(path: string): Json {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Json;
  } catch (error) {
    throw new ConfigError(`config file ${path}: ${(error as Error).message}`);
  }
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function merge(base: Json, override: Json): Json {
  if (!isObject(base) || !isObject(override)) return override;
  const result = { ...base };
  for (const [key, value] of Object.entries(override)) result[key] = merge(base[key], value);
  return result;
}

function setPointer(target: Json, pointer: string, value: (current: Json | undefined) => Json): void {
  const keys = pointer.split('/').slice(1);
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (!isObject(node)) return;
    node = node[key];
  }
  const last = keys[keys.length - 1];
  if (isObject(node)) node[last] = value(node[last]);
}

/**
 * Loads config/default.json, then the JSON file named by FACEGATE_CONFIG (merged over it),
 * then the single-key environment overrides, and validates the result against
 * config/schema.json. Relative paths are resolved against the project root.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  let raw = readJson(join(PROJECT_ROOT, 'config', 'default.json'));
  if (env.FACEGATE_CONFIG) raw = merge(raw, readJson(resolve(env.FACEGATE_CONFIG)));
  const sources = new Map<string, string>();
  for (const [variable, pointer] of Object.entries(ENV_OVERRIDES)) {
    const value = env[variable];
    if (value === undefined) continue;
    setPointer(raw, pointer, () => value);
    sources.set(pointer, variable);
  }
  for (const [variable, pointer] of Object.entries(ENV_LISTS)) {
    const items = (env[variable] ?? '').split(',').map((item) => item.trim()).filter(Boolean);
    if (items.length === 0) continue;
    setPointer(raw, pointer, (current) => [...(Array.isArray(current) ? current : []), ...items]);
    sources.set(pointer, variable);
  }

  // Environment values are strings: coercion turns "8080" into 8080 and leaves "abc" invalid.
  const ajv = new Ajv({ allErrors: true, coerceTypes: true });
  const validate = ajv.compile(readJson(join(PROJECT_ROOT, 'config', 'schema.json')) as object);
  if (!validate(raw)) {
    const problems = (validate.errors ?? []).map((e) => {
      const path = e.instancePath || '/';
      const from = [...sources].find(([pointer]) => e.instancePath === pointer || e.instancePath.startsWith(`${pointer}/`))?.[1];
      const detail = e.keyword === 'additionalProperties' ? `has unknown key "${(e.params as { additionalProperty: string }).additionalProperty}"` : e.message;
      return `${path}${from ? ` (from ${from})` : ''} ${detail}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const config = raw as unknown as Config;
  if (config.pipeline.embedding.model !== 'fr-feature') {
    // The quality model was trained on fr-feature's raw embedding norm (train/quality.ts).
    throw new ConfigError(`invalid configuration: /pipeline/embedding/model must be fr-feature: the quality model reads its embedding norm`);
  }
  if (config.limits.bodyTimeoutMs > config.server.requestTimeoutMs) {
    // Node's request timeout would cut such a body first, with a bare 408 instead of the family's.
    throw new ConfigError(`invalid configuration: /limits/bodyTimeoutMs (${config.limits.bodyTimeoutMs}) must not exceed /server/requestTimeoutMs (${config.server.requestTimeoutMs})`);
  }
  for (const [key, [at10, at90]] of Object.entries(config.pipeline.quality)) {
    if (at10 === at90) throw new ConfigError(`invalid configuration: /pipeline/quality/${key} needs two different values`);
  }
  config.store.dataDir = resolve(PROJECT_ROOT, config.store.dataDir);
  config.models.dir = resolve(PROJECT_ROOT, config.models.dir);
  // A bare name is looked up on PATH when ffmpeg runs.
  if (config.video.ffmpegPath.includes('/')) config.video.ffmpegPath = resolve(PROJECT_ROOT, config.video.ffmpegPath);
  return config;
}

/** The analysis options of a configuration: its pipeline settings and image limits. */
export function analysisOptions(config: Config): AnalysisOptions {
  return { ...config.pipeline, limits: { maxBytes: config.limits.maxImageBytes, maxPixels: config.limits.maxImagePixels, analysisPixels: config.limits.maxAnalysisPixels } };
}
