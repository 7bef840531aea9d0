import { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from 'express';
import multer from 'multer';
import type { Config } from '../config';
import type { Keyring } from '../config/api-keys';
import { enrollableFace, livenessPasses, matchScore, probeOf, sameFaceAs, videoLivenessPasses } from '../gate/recognition';
import type { AnalysisOptions, Analyzer, FaceAnalysis } from '../pipeline/analyze';
import { ImageError, sniffFormat } from '../pipeline/decode';
import { sniffVideo, VideoError, videoFrames } from '../pipeline/video';
import { embeddingSpace } from '../models/manifest';
import type { Store } from '../store';
import { EnrollmentConflict } from '../store/users';
import { requestCaller, requireKey } from './auth';
import { classify, HttpError } from './errors';
import { analysisDeadline, detectingFrom, IMAGE_KEY, isoSeconds, newImage } from './image-input';

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** HTTP status of each enrollment or authentication reason (README and openapi.yaml list them). */
export const REASON_STATUS: Record<string, number> = {
  ENROLLED_AS_USER: 200,
  AUTHENTIFICATION_SUCCESS: 200,
  FACE_MISMATCH: 200,
  LIVENESS_FAILED: 200,
  REPLAYED_IMAGE: 200,
  MISSING_USERNAME: 400,
  EMPTY_USERNAME: 400,
  INVALID_USERNAME: 400,
  INVALID_REQUEST: 400,
  MISSING_CIN_FILE: 400,
  EMPTY_CIN_FILE: 400,
  MISSING_AUTH_VIDEO: 400,
  EMPTY_AUTH_VIDEO: 400,
  INVALID_IMAGE: 400,
  INVALID_MEDIA: 400,
  INVALID_IMAGE_KEY: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  UNKNOWN_USER: 404,
  UNKNOWN_IMAGE_KEY: 404,
  REQUEST_TIMEOUT: 408,
  DUPLICATE_USERNAME: 409,
  FACE_ALREADY_ENROLLED: 409,
  IMAGE_KEY_TAKEN: 409,
  REENROLLMENT_REQUIRED: 409,
  FILE_TOO_LARGE: 413,
  NO_FACE_DETECTED: 422,
  MULTIPLE_FACES_DETECTED: 422,
  FACE_OCCLUDED: 422,
  LOW_IMAGE_QUALITY: 422,
  INTERNAL_ERROR: 500,
  TOO_MANY_REQUESTS: 429,
  SERVICE_BUSY: 503,
};

/** A rejection with its reference reason; `score` goes into authentication answers. */
class Rejection extends Error {
  constructor(
    readonly reason: string,
    readonly score: number | null = null,
  ) {
    super(reason);
  }
}

const enrollAnswer = (reason: string) =>
  reason === 'ENROLLED_AS_USER'
    ? { trained: 'success', EnrollStatus: 'APPROVED', DecisionReason: reason }
    : { trained: 'failed', EnrollStatus: 'REJECTED', DecisionReason: reason };
const authAnswer = (reason: string, score: number | null) => ({
  score,
  Decision: reason === 'AUTHENTIFICATION_SUCCESS' ? 'APPROVED' : 'REJECTED',
  DecisionReason: reason,
});

/** The reason for a failure outside the flow itself: keys, multipart problems, internal faults. */
function reasonOf(error: unknown, missingFile: string): { reason: string; status: number } {
  if (error instanceof Rejection) return { reason: error.reason, status: REASON_STATUS[error.reason] };
  if (error instanceof multer.MulterError) {
    if (error.code === 'LIMIT_FILE_SIZE') return { reason: 'FILE_TOO_LARGE', status: 413 };
    if (error.code === 'LIMIT_UNEXPECTED_FILE') return { reason: missingFile, status: 400 };
    return { reason: 'INVALID_REQUEST', status: 400 };
  }
  const known = classify(error);
  if (known?.status === 401) return { reason: 'UNAUTHORIZED', status: 401 };
  if (known?.status === 403) return { reason: 'FORBIDDEN', status: 403 };
  if (known?.status === 408) return { reason: 'REQUEST_TIMEOUT', status: 408 };
  if (known?.status === 429) return { reason: 'TOO_MANY_REQUESTS', status: 429 };
  if (known?.status === 503) return { reason: 'SERVICE_BUSY', status: 503 };
  if (known) return { reason: 'INVALID_REQUEST', status: known.status };
  return { reason: 'INTERNAL_ERROR', status: 500 };
}

function username(req: Request): string {
  const raw = req.query.username ?? (req.body as Record<string, unknown> | undefined)?.username;
  if (raw === undefined) throw new Rejection('MISSING_USERNAME');
  if (typeof raw !== 'string') throw new Rejection('INVALID_USERNAME');
  const name = raw.trim();
  if (name === '') throw new Rejection('EMPTY_USERNAME');
  if (!USERNAME.test(name)) throw new Rejection('INVALID_USERNAME');
  return name;
}

function imageKey(req: Request): string | undefined {
  const raw = req.query.image_key ?? (req.body as Record<string, unknown> | undefined)?.image_key;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !IMAGE_KEY.test(raw.trim())) throw new Rejection('INVALID_IMAGE_KEY');
  return raw.trim().toLowerCase();
}

export interface EnrollDeps {
  config: Config;
  analyzer: Analyzer;
  store: Store;
  keyring: Keyring;
  options: AnalysisOptions;
  /** Wraps a body parser: the per-client upload limit and the body deadline. */
  readBody: (parser: RequestHandler) => RequestHandler;
  /** The shared admission queue of the analysis routes, after the body is read. */
  turn: RequestHandler;
  /** The per-key rate limit, first on every route. */
  perKey: RequestHandler;
}

/** The enroll / authenticate / reset flow of the curl-driven enrollment server, and per-user routes. */
export function enrollRoutes({ config, analyzer, store, keyring, options, readBody, turn, perKey }: EnrollDeps): Router {
  const router = Router();
  const { recognition, gate } = config;
  const space = embeddingSpace(config.models.dir, options.embedding.model);
  const choice = { detection: gate.fiqa.detection, dominantFace: recognition.dominantFace };
  const analysisOptions = detectingFrom(options, choice.detection);
  const analyseImage = async (bytes: Buffer, label: string): Promise<FaceAnalysis> => {
    try {
      return await analyzer.analyze(bytes, analysisOptions);
    } catch (error) {
      if (error instanceof ImageError) throw new Rejection(error.code === 'too_large' ? 'FILE_TOO_LARGE' : label);
      throw error;
    }
  };
  const storedImage = (key: string): Buffer => {
    const bytes = store.images.original(key);
    if (!bytes) throw new Rejection('UNKNOWN_IMAGE_KEY');
    return bytes;
  };

  /** The request's photo or video: the uploaded file, or the stored image that image_key names. */
  const mediaOf = (req: Request, missing: string, empty: string): { bytes: Buffer; key?: string } => {
    const key = imageKey(req);
    if (req.file && key) throw new Rejection('INVALID_REQUEST');
    if (key) return { bytes: storedImage(key), key };
    if (!req.file) throw new Rejection(missing);
    if (req.file.size === 0) throw new Rejection(empty);
    return { bytes: req.file.buffer };
  };

  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: Math.max(config.limits.maxImageBytes, config.video.maxBytes), files: 1, fields: 8 } });
  const guard: RequestHandler[] = [perKey, requireKey(keyring, 'user', config.auth.required.enroll)];

  const enroll: RequestHandler = async (req, res) => {
    const name = username(req);
    const { bytes, key } = mediaOf(req, 'MISSING_CIN_FILE', 'EMPTY_CIN_FILE');
    if (bytes.length > config.limits.maxImageBytes) throw new Rejection('FILE_TOO_LARGE');
    if (store.users.exists(name)) throw new Rejection('DUPLICATE_USERNAME');
    if (!sniffFormat(bytes)) throw new Rejection('INVALID_IMAGE');
    const analysis = await analyseImage(bytes, 'INVALID_IMAGE');
    const verdict = enrollableFace(analysis, {
      ...choice,
      occlusion: gate.fiqa.occlusion,
      iqa: gate.fiqa.iqa,
      minIpd: recognition.minIpd,
      liveness: config.liveness.stills ? config.liveness : undefined,
    });
    if (!verdict.ok) throw new Rejection(verdict.problem);
    const face = verdict.value;
    const createdAt = isoSeconds();
    const image = key ? { key } : { upload: newImage(bytes, analysis, face, createdAt) };
    const duplicateOf = () => (recognition.duplicateSearch ? sameFaceAs(face.embedding, store.users.templates(space), recognition.duplicateThreshold) : undefined);
    try {
      store.users.enroll({ username: name, createdAt, image, template: { model: face.embeddingModel, modelVersion: face.embeddingVersion, embedding: face.embedding } }, duplicateOf);
    } catch (error) {
      if (error instanceof EnrollmentConflict) {
        if (error.reason === 'FACE_ALREADY_ENROLLED') req.log.warn({ username: name, enrolledAs: error.otherUser }, 'face already enrolled');
        throw new Rejection(error.reason);
      }
      throw error;
    }
    res.status(200).json(enrollAnswer('ENROLLED_AS_USER'));
  };

  const authenticate: RequestHandler = async (req, res) => {
    const name = username(req);
    const { bytes, key } = mediaOf(req, 'MISSING_AUTH_VIDEO', 'EMPTY_AUTH_VIDEO');
    if (!store.users.exists(name)) throw new Rejection('UNKNOWN_USER');
    // An enrolled photo is evidence already on file, not a new capture, whoever presents it.
    if (key && store.images.isEnrolled(key)) throw new Rejection('REPLAYED_IMAGE');
    const templates = store.users.templatesOf(name, space);
    if (templates.length === 0) throw new Rejection('REENROLLMENT_REQUIRED');
    if (store.users.enrolledOriginals(name).some((original) => original.equals(bytes))) throw new Rejection('REPLAYED_IMAGE');
    let frames: FaceAnalysis[];
    let isVideo = false;
    if (sniffFormat(bytes)) {
      if (bytes.length > config.limits.maxImageBytes) throw new Rejection('FILE_TOO_LARGE');
      frames = [await analyseImage(bytes, 'INVALID_MEDIA')];
    } else if (sniffVideo(bytes)) {
      isVideo = true;
      let stills: Buffer[];
      try {
        stills = await videoFrames(bytes, config.video);
      } catch (error) {
        if (error instanceof VideoError) throw new Rejection(error.code === 'too_large' ? 'FILE_TOO_LARGE' : 'INVALID_MEDIA');
        throw error;
      }
      frames = [];
      const deadline = analysisDeadline(res, config.limits.analysisTimeoutMs);
      for (const still of stills) {
        deadline.check();
        frames.push(await analyseImage(still, 'INVALID_MEDIA'));
      }
    } else {
      throw new Rejection('INVALID_MEDIA');
    }
    const probe = probeOf(frames, choice, config.video.bestFrames);
    if (!probe.ok) throw new Rejection(probe.problem);
    if (key) store.images.markUsed(key, isoSeconds());
    const score = Math.round(matchScore(probe.value.embedding, templates) * 10000) / 10000;
    if (score >= recognition.replaySimilarity) throw new Rejection('REPLAYED_IMAGE', score);
    const live = isVideo ? !config.liveness.videos || videoLivenessPasses(probe.value, config.liveness) : !config.liveness.stills || livenessPasses(probe.value.liveness, config.liveness);
    if (!live) throw new Rejection('LIVENESS_FAILED', score);
    if (score < recognition.threshold) throw new Rejection('FACE_MISMATCH', score);
    res.status(200).json(authAnswer('AUTHENTIFICATION_SUCCESS', score));
  };

  /** A rejection's score goes only to the callers config trusts with it, so nobody can climb towards the threshold. */
  const rejectionScore = (res: Response, error: unknown): number | null => {
    if (!(error instanceof Rejection)) return null;
    const trusted = recognition.rejectionScores === 'all' || (recognition.rejectionScores === 'admin' && requestCaller(res).role === 'admin');
    return trusted ? error.score : null;
  };

  const enrollErrors: ErrorRequestHandler = (error, req, res, _next) => {
    const { reason, status } = reasonOf(error, 'MISSING_CIN_FILE');
    if (status === 500) req.log.error({ err: error }, 'enroll failed');
    res.status(status).json(enrollAnswer(reason));
  };
  const authErrors: ErrorRequestHandler = (error, req, res, _next) => {
    const { reason, status } = reasonOf(error, 'MISSING_AUTH_VIDEO');
    if (status === 500) req.log.error({ err: error }, 'authentication failed');
    res.status(status).json(authAnswer(reason, rejectionScore(res, error)));
  };

  router.post('/api/enroll', ...guard, readBody(upload.single('cin_file')), turn, enroll, enrollErrors);
  for (const path of ['/api/authentificate', '/api/authenticate']) {
    router.post(path, ...guard, readBody(upload.single('auth_video')), turn, authenticate, authErrors);
  }

  const resetErrors: ErrorRequestHandler = (error, req, res, _next) => {
    const known = classify(error);
    if (known) {
      res.status(known.status).json({ code: known.status, msg: `ERROR_DETECTED : ${known.message}` });
      return;
    }
    req.log.error({ err: error }, 'reset failed');
    res.status(500).json({ code: 500, msg: 'ERROR_DETECTED : the database could not be reset' });
  };
  const reset: RequestHandler = (_req, res) => {
    store.users.reset();
    res.json({ code: 200, msg: 'DONE' });
  };
  router.post('/api/reset', perKey, requireKey(keyring, 'admin'), reset, resetErrors);

  const userErrors: ErrorRequestHandler = (error, req, res, _next) => {
    const known = classify(error) ?? (error instanceof Rejection ? new HttpError(REASON_STATUS[error.reason], error.reason, error.reason) : undefined);
    if (!known) req.log.error({ err: error }, 'user route failed');
    res.status(known?.status ?? 500).json({ code: known?.status ?? 500, msg: known ? known.code.toUpperCase() : 'INTERNAL_ERROR' });
  };
  const userName: RequestHandler = (req, res, next) => {
    const name = String(req.params.username);
    if (!USERNAME.test(name)) throw new Rejection('INVALID_USERNAME');
    res.locals.username = name;
    next();
  };
  const userMetadata: RequestHandler = (_req, res) => {
    const user = store.users.metadata(res.locals.username as string);
    if (!user) throw new Rejection('UNKNOWN_USER');
    res.set('Cache-Control', 'no-store').json({
      username: user.username,
      created_at: user.createdAt,
      templates: user.templates.map((t) => ({ model: t.model, model_version: t.modelVersion, created_at: t.createdAt })),
      image_keys: user.imageKeys,
    });
  };
  const deleteUser: RequestHandler = (_req, res) => {
    if (!store.users.delete(res.locals.username as string)) throw new Rejection('UNKNOWN_USER');
    res.json({ code: 200, msg: 'DELETED' });
  };
  router.get('/api/users/:username', ...guard, userName, userMetadata, userErrors);
  router.delete('/api/users/:username', ...guard, userName, deleteUser, userErrors);
  return router;
}
