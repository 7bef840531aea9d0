import express, { type ErrorRequestHandler, type RequestHandler, Router } from 'express';
import { STATUS_DESCRIPTIONS } from '../gate/photo-rules';
import type { ImageFlows } from '../service/images';
import type { ImageMetadata } from '../store';
import { requestCaller, requireKey } from './auth';
import { jsonBodyLimit } from './base64';
import { classify, HttpError } from './errors';
import { faceOutlines } from './face-outlines';
import { asClientError, IMAGE_KEY, imageBytes } from './image-input';
import type { ServiceMetrics } from './metrics';
import { describeErrors } from './openapi';
import type { AnalysisRouteDeps } from './route-deps';

/** QI Tech's titles for errors that are not quality verdicts. */
const TITLES: Record<string, string> = {
  invalid_json: 'invalid_request',
  invalid_request: 'invalid_request',
  unsupported_encoding: 'invalid_request',
  corrupt_encoding: 'invalid_request',
  invalid_image: 'invalid_image',
  image_too_large: 'invalid_image',
  payload_too_large: 'invalid_image',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  not_found: 'not_found',
  overloaded: 'service_unavailable',
  shutting_down: 'service_unavailable',
  rate_limited: 'too_many_requests',
  too_many_uploads: 'too_many_requests',
  body_timeout: 'request_timeout',
  analysis_timeout: 'service_unavailable',
};

/** `{title, description}` for every failure; QI Tech answers invalid data, an oversized image included, with 400. */
const qitechErrors: ErrorRequestHandler = (error, req, res, _next) => {
  const known = classify(error);
  if (!known) {
    req.log.error({ err: error }, 'face_recognition request failed');
    res.status(500).json({ title: 'internal_error', description: 'The service failed to handle this request.' });
    return;
  }
  res.status(known.status === 413 ? 400 : known.status).json({ title: TITLES[known.code] ?? 'invalid_request', description: known.message });
};

function metadataBody(image: ImageMetadata) {
  return { image_key: image.key, file_size: image.fileSize, width_px: image.width, height_px: image.height, created_at: image.createdAt };
}

export interface QiTechDeps extends AnalysisRouteDeps {
  images: ImageFlows;
  metrics: ServiceMetrics;
}

/** `?faces=true` asks for the faces' outlines in the upload's answer (a FaceGate extension); absent or `false`, the answer is QI Tech's. */
function wantsFaces(query: unknown): boolean {
  const value = (query as Record<string, unknown>).faces;
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw new HttpError(400, 'invalid_request', 'Invalid request: the query parameter faces must be true or false.');
}

/** QI Tech's `/face_recognition/image` routes: the photo-rule gate, then storage by key. */
export function qitechRoutes({ config, images, metrics, keyring, api, options, readBody, turn, perKey }: QiTechDeps): Router {
  const router = Router();
  const validate = api.validator('ImageUploadRequest');

  const upload: RequestHandler = async (req, res) => {
    const body = req.body as unknown;
    if (!validate(body)) throw new HttpError(400, 'invalid_request', `Invalid request: ${describeErrors(validate)}.`);
    const withFaces = wantsFaces(req.query);
    const bytes = imageBytes((body as { image: string }).image, options.limits);
    const outcome = await asClientError('The image', () => images.upload(requestCaller(res).clientId, bytes, withFaces));
    const faces = withFaces && outcome.analysis ? { faces: faceOutlines(outcome.analysis, config.gate.photo) } : {};
    if (!outcome.accepted) {
      const { verdict } = outcome;
      const status = verdict.status ?? 'no_faces';
      metrics.verdict('qitech', false, status);
      res.status(400).json({
        title: 'image_quality',
        description: `This image was not approved in quality assessment. ${STATUS_DESCRIPTIONS[status]}`,
        image_status: status,
        reasons: verdict.failures,
        ...faces,
      });
      return;
    }
    metrics.verdict('qitech', true, 'accepted');
    res.status(201).json({ ...metadataBody(outcome.image), ...faces });
  };

  const stored: RequestHandler = async (req, res, next) => {
    const key = String(req.params.image_key);
    if (!IMAGE_KEY.test(key)) throw new HttpError(400, 'invalid_request', 'image_key must be a UUID.');
    // Another client's image answers exactly as one never stored.
    const metadata = await images.metadata(requestCaller(res).clientId, key.toLowerCase());
    if (!metadata) throw new HttpError(404, 'not_found', 'No image is stored under this key.');
    res.locals.image = metadata;
    next();
  };
  const sendBytes = (res: express.Response, type: string, bytes: Buffer | undefined, missing: string) => {
    if (!bytes) throw new HttpError(404, 'not_found', missing);
    res.set('Cache-Control', 'no-store').type(type).send(bytes);
  };

  const metadata: RequestHandler = (_req, res) => {
    res.set('Cache-Control', 'no-store').json(metadataBody(res.locals.image as ImageMetadata));
  };
  const file: RequestHandler = async (_req, res) => {
    const image = res.locals.image as ImageMetadata;
    sendBytes(res, image.contentType, await images.original(requestCaller(res).clientId, image.key), 'No image is stored under this key.');
  };
  const croppedFile: RequestHandler = async (_req, res) => {
    const image = res.locals.image as ImageMetadata;
    const crop = await images.croppedOfUsed(requestCaller(res).clientId, image.key);
    sendBytes(res, 'image/jpeg', crop, 'The cropped file exists once the image has been used for an enrollment or a validation.');
  };

  const guard: RequestHandler[] = [perKey, requireKey(keyring, 'user', config.auth.required.qitech)];
  router.post('/face_recognition/image', ...guard, readBody(express.json({ limit: jsonBodyLimit(config.limits.maxImageBytes) })), turn, upload, qitechErrors);
  router.get('/face_recognition/image/:image_key', ...guard, stored, metadata, qitechErrors);
  router.get('/face_recognition/image/:image_key/file', ...guard, stored, file, qitechErrors);
  router.get('/face_recognition/image/:image_key/cropped_file', ...guard, stored, croppedFile, qitechErrors);
  return router;
}
