import { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from 'express';
import multer from 'multer';
import { deploymentIdentityTagger } from '../log';
import { type EnrollmentFlows, type Media, Rejection } from '../service/enrollment';
import type { UserFlows } from '../service/users';
import type { ResetScope } from '../store';
import { requestCaller, requireKey } from './auth';
import { classify, HttpError, identityEncodingOnly } from './errors';
import { analysisDeadline, IMAGE_KEY } from './image-input';
import type { ServiceMetrics } from './metrics';
import type { MediaRouteDeps } from './route-deps';

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

export interface EnrollDeps extends MediaRouteDeps {
  enrollment: EnrollmentFlows;
  users: UserFlows;
  metrics: ServiceMetrics;
}

/** The enroll / authenticate / reset flow of the curl-driven enrollment server, and per-user routes. */
export function enrollRoutes({ config, enrollment, users, metrics, keyring, readBody, turn, perKey }: EnrollDeps): Router {
  const router = Router();
  const identities = deploymentIdentityTagger(config);
  const { recognition } = config;

  /** The request's photo or video: the uploaded file, or the key of a stored image. */
  const mediaOf = (req: Request, missing: string, empty: string): Media => {
    const key = imageKey(req);
    if (req.file && key) throw new Rejection('INVALID_REQUEST');
    if (key) return { imageKey: key };
    if (!req.file) throw new Rejection(missing);
    if (req.file.size === 0) throw new Rejection(empty);
    return { bytes: req.file.buffer };
  };

  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: Math.max(config.limits.maxImageBytes, config.video.maxBytes), files: 1, fields: 8 } });
  const guard: RequestHandler[] = [perKey, requireKey(keyring, 'user', config.auth.required.enroll)];

  const enroll: RequestHandler = async (req, res) => {
    const { clientId } = requestCaller(res);
    const name = username(req);
    try {
      await enrollment.enroll(clientId, name, mediaOf(req, 'MISSING_CIN_FILE', 'EMPTY_CIN_FILE'));
    } catch (error) {
      // Only the newcomer, and only as a keyed hash: the log never pairs two identities.
      if (error instanceof Rejection && error.reason === 'FACE_ALREADY_ENROLLED') req.log.warn({ client: clientId, user: identities.tag(clientId, name) }, 'face already enrolled');
      throw error;
    }
    metrics.verdict('enroll', true, 'ENROLLED_AS_USER');
    res.status(200).json(enrollAnswer('ENROLLED_AS_USER'));
  };

  const authenticate: RequestHandler = async (req, res) => {
    const name = username(req);
    const deadline = analysisDeadline(res, config.limits.analysisTimeoutMs);
    const score = await enrollment.authenticate(requestCaller(res).clientId, name, mediaOf(req, 'MISSING_AUTH_VIDEO', 'EMPTY_AUTH_VIDEO'), deadline.check);
    metrics.verdict('authenticate', true, 'AUTHENTIFICATION_SUCCESS');
    res.status(200).json(authAnswer('AUTHENTIFICATION_SUCCESS', score));
  };

  /**
   * A rejection's score goes only to the callers config trusts with it, so nobody can climb towards
   * the threshold. The user scored is always of the caller's own client, so an admin is trusted
   * only with its own client's users (an all-clients admin acts as the default client here).
   */
  const rejectionScore = (res: Response, error: unknown): number | null => {
    if (!(error instanceof Rejection)) return null;
    const trusted = recognition.rejectionScores === 'all' || (recognition.rejectionScores === 'admin' && requestCaller(res).role === 'admin');
    return trusted ? error.score : null;
  };

  const enrollErrors: ErrorRequestHandler = (error, req, res, _next) => {
    const { reason, status } = reasonOf(error, 'MISSING_CIN_FILE');
    if (status === 500) req.log.error({ err: error }, 'enroll failed');
    metrics.verdict('enroll', false, reason);
    res.status(status).json(enrollAnswer(reason));
  };
  const authErrors: ErrorRequestHandler = (error, req, res, _next) => {
    const { reason, status } = reasonOf(error, 'MISSING_AUTH_VIDEO');
    if (status === 500) req.log.error({ err: error }, 'authentication failed');
    metrics.verdict('authenticate', false, reason);
    res.status(status).json(authAnswer(reason, rejectionScore(res, error)));
  };

  router.post('/api/enroll', ...guard, identityEncodingOnly, readBody(upload.single('cin_file')), turn, enroll, enrollErrors);
  for (const path of ['/api/authentificate', '/api/authenticate']) {
    router.post(path, ...guard, identityEncodingOnly, readBody(upload.single('auth_video')), turn, authenticate, authErrors);
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
  /** The caller's client, or every client when an all-clients admin sends `all_clients=true`. */
  const resetScope = (req: Request, res: Response): ResetScope => {
    const caller = requestCaller(res);
    const { all_clients: allClients } = req.query;
    if (allClients === undefined || allClients === 'false') return { client: caller.clientId };
    if (allClients !== 'true') throw new HttpError(400, 'invalid_request', "all_clients must be 'true' or 'false'");
    if (!caller.allClients) throw new HttpError(403, 'forbidden', "this admin key acts on its own client's data only: all_clients=true needs an all-clients admin key");
    return { allClients: true };
  };
  const reset: RequestHandler = async (req, res) => {
    await users.reset(resetScope(req, res));
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
  const userMetadata: RequestHandler = async (_req, res) => {
    const user = await users.metadata(requestCaller(res).clientId, res.locals.username as string);
    if (!user) throw new Rejection('UNKNOWN_USER');
    res.set('Cache-Control', 'no-store').json({
      username: user.username,
      created_at: user.createdAt,
      templates: user.templates.map((t) => ({ model: t.model, model_version: t.modelVersion, created_at: t.createdAt })),
      image_keys: user.imageKeys,
    });
  };
  const deleteUser: RequestHandler = async (_req, res) => {
    if (!(await users.erase(requestCaller(res).clientId, res.locals.username as string))) throw new Rejection('UNKNOWN_USER');
    res.json({ code: 200, msg: 'DELETED' });
  };
  router.get('/api/users/:username', ...guard, userName, userMetadata, userErrors);
  router.delete('/api/users/:username', ...guard, userName, deleteUser, userErrors);
  return router;
}
