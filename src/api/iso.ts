import express, { type ErrorRequestHandler, type RequestHandler, Router } from 'express';
import multer from 'multer';
import { isoAssessment } from '../gate/iso29794';
import type { Analyzer } from '../pipeline/analyze';
import { requireKey } from './auth';
import { jsonBodyLimit } from './base64';
import { classify, HttpError, identityEncodingOnly } from './errors';
import { asClientError, checkedImageBytes, imageBytes, withinPixelBudget } from './image-input';
import { describeErrors } from './openapi';
import type { AnalysisRouteDeps } from './route-deps';

export interface IsoDeps extends AnalysisRouteDeps {
  analyzer: Analyzer;
}

export const ISO_ROUTE = '/quality/iso29794-5';

/** In the BQAT family's shape (`detail`), as the scans that report the same components. */
const isoErrors: ErrorRequestHandler = (error, req, res, _next) => {
  const known =
    error instanceof multer.MulterError
      ? error.code === 'LIMIT_FILE_SIZE'
        ? new HttpError(413, 'image_too_large', 'The image is larger than this service accepts.')
        : new HttpError(400, 'invalid_request', `The multipart body is not one file part named image: ${error.message}.`)
      : classify(error);
  if (!known) {
    req.log.error({ err: error }, 'ISO/IEC 29794-5 assessment failed');
    res.status(500).json({ error: 'internal_error', detail: 'The service failed to handle this request.' });
    return;
  }
  res.status(known.status).json({ error: known.code, detail: known.message });
};

/** `POST /quality/iso29794-5`: one image (JSON base64 or multipart `image`), every ISO/IEC 29794-5 component of its largest face. */
export function isoRoutes({ config, analyzer, keyring, api, options, readBody, turn, perKey }: IsoDeps): Router {
  const router = Router();
  const validate = api.validator('IsoQualityRequest');
  const json = express.json({ limit: jsonBodyLimit(config.limits.maxImageBytes) });
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: config.limits.maxImageBytes, files: 1, fields: 0 } }).single('image');
  const parse: RequestHandler = (req, res, next) => (req.is('multipart/form-data') ? identityEncodingOnly(req, res, (error?: unknown) => (error ? next(error) : upload(req, res, next))) : json(req, res, next));

  const assess: RequestHandler = async (req, res) => {
    let bytes: Buffer;
    if (req.file) {
      bytes = checkedImageBytes(req.file.buffer, options.limits);
    } else {
      const body = req.body as unknown;
      if (!validate(body)) throw new HttpError(400, 'invalid_request', `Invalid request: ${describeErrors(validate)}; send JSON {"image": "<base64>"} or a multipart file part named image.`);
      bytes = imageBytes((body as { image: string }).image, options.limits);
    }
    await withinPixelBudget([{ bytes, label: 'The image' }], config.limits.maxPixelsPerRequest);
    const analysis = await asClientError('The image', () => analyzer.assess(bytes, { ...options, isoPixels: true }));
    res.json(isoAssessment(analysis));
  };

  router.post(ISO_ROUTE, perKey, requireKey(keyring, 'user', config.auth.required.scan), readBody(parse), turn, assess, isoErrors);
  return router;
}
