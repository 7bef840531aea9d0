import express, { type ErrorRequestHandler, type RequestHandler, Router } from 'express';
import { randomBytes } from 'node:crypto';
import { cascadeVerdict, type FiqaThresholds, type FiqaVerdict } from '../gate/fiqa';
import type { Analyzer } from '../pipeline/analyze';
import { requireKey } from './auth';
import { jsonBodyLimit } from './base64';
import { classify, HttpError } from './errors';
import { analysisDeadline, asClientError, imageBytes, withinPixelBudget } from './image-input';
import type { ServiceMetrics } from './metrics';
import { describeErrors } from './openapi';
import type { AnalysisRouteDeps } from './route-deps';

interface FiqaRequest {
  images: string[];
  additional_params?: {
    face_detection?: { threshold: number };
    face_occlusion?: { threshold: number };
    face_iqa?: { threshold: number };
  };
}

const OUTCOME_SENTENCES: Record<FiqaVerdict['outcome'], string> = {
  accepted: 'Your Image accepted.',
  face_count: 'Face not detected or Multiple faces detected.',
  occluded: 'Face is Occluded.',
  low_quality: 'Image quality not match.',
};

/** The UTC time to the millisecond, then 64 random hex digits, as Nodeflux's job ids. */
export function jobId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:TZ.]/g, '');
  return `${stamp}${randomBytes(32).toString('hex')}`;
}

function message(verdicts: FiqaVerdict[]): string {
  if (verdicts.length === 1) {
    const [{ outcome }] = verdicts;
    return outcome === 'accepted' ? OUTCOME_SENTENCES.accepted : `Your Image not accepted. ${OUTCOME_SENTENCES[outcome]}`;
  }
  const rejected = verdicts.flatMap((v, i) => (v.outcome === 'accepted' ? [] : [`image ${i + 1} (${OUTCOME_SENTENCES[v.outcome]})`]));
  if (rejected.length === 0) return `All ${verdicts.length} images accepted.`;
  return `${rejected.length} of ${verdicts.length} images not accepted: ${rejected.join(', ')}`;
}

function resultOf(verdict: FiqaVerdict) {
  return {
    accepted: verdict.outcome === 'accepted',
    face_iqa: verdict.iqa ? { accepted: verdict.iqa.accepted, iqa_score: Math.round(verdict.iqa.score * 10000) / 10000 } : {},
    face_occlusion: verdict.occlusion ? { occluded: verdict.occlusion.occluded, occluded_features: verdict.occlusion.regions } : {},
  };
}

function thresholdsOf(body: FiqaRequest, defaults: FiqaThresholds): FiqaThresholds {
  const params = body.additional_params ?? {};
  return {
    detection: params.face_detection?.threshold ?? defaults.detection,
    occlusion: params.face_occlusion?.threshold ?? defaults.occlusion,
    iqa: params.face_iqa?.threshold ?? defaults.iqa,
  };
}

/** Nodeflux's error shape for every failure, with the job id; internal faults are logged with it. */
const fiqaErrors: ErrorRequestHandler = (error, req, res, _next) => {
  const id = res.locals.jobId as string;
  const known = classify(error);
  if (!known) req.log.error({ err: error, jobId: id }, 'FIQA job failed');
  res.status(known?.status ?? 500).json({ job: { id, result: null }, message: known?.message ?? 'The service failed to handle this request.', ok: false });
};

export interface NodefluxDeps extends AnalysisRouteDeps {
  analyzer: Analyzer;
  metrics: ServiceMetrics;
}

/** `POST /NFFS-FIQA/v1/predict`: detection → occlusion → quality per image, in Nodeflux's shapes. */
export function nodefluxRoutes({ config, analyzer, metrics, keyring, api, options, readBody, turn, perKey }: NodefluxDeps): Router {
  const router = Router();
  const validate = api.validator('FiqaRequest');
  const maxImages = config.limits.maxImagesPerRequest;
  const bodyLimit = jsonBodyLimit(config.limits.maxImageBytes, maxImages);

  const startJob: RequestHandler = (_req, res, next) => {
    res.locals.jobId = jobId();
    next();
  };
  const predict: RequestHandler = async (req, res) => {
    const body = req.body as unknown;
    if (!validate(body)) throw new HttpError(400, 'invalid_request', `Invalid request: ${describeErrors(validate)}.`);
    const request = body as FiqaRequest;
    if (request.images.length > maxImages) {
      throw new HttpError(400, 'invalid_request', `Invalid request: at most ${maxImages} images per request, got ${request.images.length}.`);
    }
    const images = request.images.map((text, i) => imageBytes(text, options.limits, `images[${i}]`));
    await withinPixelBudget(images.map((bytes, i) => ({ bytes, label: `images[${i}]` })), config.limits.maxPixelsPerRequest);
    const deadline = analysisDeadline(res, config.limits.analysisTimeoutMs);
    const thresholds = thresholdsOf(request, config.gate.fiqa);
    const verdicts: FiqaVerdict[] = [];
    for (const [i, bytes] of images.entries()) {
      deadline.check();
      // Detection, then occlusion, then quality, each only if the one before passed (runCascade).
      const measured = await asClientError(`images[${i}]`, () => analyzer.cascade(bytes, options, thresholds));
      const verdict = cascadeVerdict(measured, thresholds);
      metrics.verdict('nodeflux', verdict.outcome === 'accepted', verdict.outcome);
      verdicts.push(verdict);
    }
    res.json({
      job: { id: res.locals.jobId as string, result: { analytic_type: 'FACE IQA PIPELINE', result: verdicts.map(resultOf), status: 'success' } },
      message: message(verdicts),
      ok: true,
    });
  };

  const guard: RequestHandler[] = [perKey, requireKey(keyring, 'user', config.auth.required.nodeflux)];
  router.post('/NFFS-FIQA/v1/predict', startJob, ...guard, readBody(express.json({ limit: bodyLimit })), turn, predict, fiqaErrors);
  return router;
}
