import { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from 'express';
import multer from 'multer';
import type { Config } from '../config';
import type { Keyring } from '../config/api-keys';
import type { Store } from '../store';
import type { ScanTask, UploadedFile } from '../store/scans';
import { toCsv } from '../scan/csv';
import { imagesOfUpload, IntakeError } from '../scan/intake';
import { PROFILE_COLUMNS } from '../scan/profile';
import { collectionOutliers, ReportCache } from '../scan/results';
import { progressOf, type Scanner } from '../scan/scanner';
import { requestCaller, requireKey } from './auth';
import { classify, HttpError, identityEncodingOnly } from './errors';
import { IMAGE_KEY } from './image-input';

export interface ScanDeps {
  config: Config;
  store: Store;
  keyring: Keyring;
  scanner: Scanner;
  /** The per-key rate limit, first on every route. */
  perKey: RequestHandler;
}

/** Rendered reports kept in memory (a few MB each for large collections). */
const REPORTS_KEPT = 8;

const uploadTooLarge = (max: number) => new HttpError(413, 'upload_too_large', `The upload is larger than ${max} bytes.`);

/**
 * Multer's memory storage with a cap on all files of a request together (multer only caps each
 * file), so that a stream of many large parts is cut off as soon as it passes the cap.
 */
function cappedMemoryStorage(maxTotalBytes: number): multer.StorageEngine {
  const received = new WeakMap<Request, number>();
  return {
    _handleFile(req, file, callback) {
      const chunks: Buffer[] = [];
      file.stream.on('data', (chunk: Buffer) => {
        const total = (received.get(req) ?? 0) + chunk.length;
        received.set(req, total);
        if (total > maxTotalBytes) {
          file.stream.destroy(uploadTooLarge(maxTotalBytes));
          return;
        }
        chunks.push(chunk);
      });
      file.stream.on('error', (error) => callback(error));
      file.stream.on('end', () => {
        const buffer = Buffer.concat(chunks);
        callback(null, { buffer, size: buffer.length });
      });
    },
    _removeFile(_req, file, callback) {
      delete (file as Partial<Express.Multer.File>).buffer;
      callback(null);
    },
  };
}

function id(value: string, what: string): string {
  if (!IMAGE_KEY.test(value)) throw new HttpError(400, 'invalid_id', `The ${what} id '${value}' is not a UUID.`);
  return value.toLowerCase();
}

function nonNegativeInteger(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value)) throw new HttpError(400, 'invalid_query', `${name} must be a whole number from 0.`);
  return Number(value);
}

function contaminationOf(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const share = typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!(share > 0 && share <= 0.5)) throw new HttpError(400, 'invalid_query', 'contamination must be a number above 0 and at most 0.5.');
  return share;
}

const taskAnswer = (task: ScanTask, errors: { file: string; error: string }[]) => {
  const { percent, etaSeconds } = progressOf(task, new Date());
  return {
    tid: task.id,
    collection: task.collection,
    status: task.status,
    processed: task.processed,
    total: task.total,
    percent: Math.round(percent * 10) / 10,
    eta_seconds: etaSeconds === null ? null : Math.round(etaSeconds),
    errors,
    failure: task.failure,
    created_at: task.createdAt,
    updated_at: task.updatedAt,
    finished_at: task.finishedAt,
  };
};

/** BQAT's batch-scan API: upload a dataset, follow its task, read profiles, outliers and the report. */
export function scanRoutes({ config, store, keyring, scanner, perKey }: ScanDeps): Router {
  const router = Router();
  const limits = { ...config.scan, maxImageBytes: config.limits.maxImageBytes };
  const upload = multer({
    storage: cappedMemoryStorage(config.scan.maxUploadBytes),
    limits: { fileSize: config.scan.maxUploadBytes, files: config.scan.maxFiles, fields: 16 },
  });
  const reports = new ReportCache(store.scans, REPORTS_KEPT);
  const guard: RequestHandler[] = [perKey, requireKey(keyring, 'user', config.auth.required.scan)];

  const taskOfCollection = (req: Request, res: Response): ScanTask => {
    const task = store.scans.taskOfCollection(requestCaller(res).clientId, id(String(req.params.collection), 'collection'));
    if (!task) throw new HttpError(404, 'not_found', `No collection ${req.params.collection}.`);
    return task;
  };
  const finishedTask = (req: Request, res: Response): ScanTask => {
    const task = taskOfCollection(req, res);
    if (task.status === 'pending' || task.status === 'running') {
      throw new HttpError(409, 'scan_unfinished', `The scan of this collection is ${task.status} (${task.processed} of ${task.total} images); ask again when it is done.`);
    }
    return task;
  };

  router.post('/scan/uploaded', ...guard, identityEncodingOnly, upload.any(), async (req, res) => {
    const parts: UploadedFile[] = ((req.files ?? []) as Express.Multer.File[]).map((f) => ({ name: f.originalname, bytes: f.buffer }));
    const task = scanner.submit(requestCaller(res).clientId, await imagesOfUpload(parts, limits));
    res.status(202).location(`/task/${task.id}/`).json({ tid: task.id, collection: task.collection, total: task.total, status: task.status });
  });

  router.get(['/task/:tid', '/task/:tid/status'], ...guard, (req, res) => {
    const task = store.scans.task(requestCaller(res).clientId, id(String(req.params.tid), 'task'));
    if (!task) throw new HttpError(404, 'not_found', `No task ${req.params.tid}.`);
    res.json(taskAnswer(task, store.scans.errors(task.id)));
  });

  router.get('/scan/:collection/profiles', ...guard, (req, res) => {
    const task = taskOfCollection(req, res);
    const skip = nonNegativeInteger(req.query.skip, 'skip') ?? 0;
    const limit = nonNegativeInteger(req.query.limit, 'limit');
    const format = req.query.format ?? 'json';
    if (format !== 'json' && format !== 'csv') throw new HttpError(400, 'invalid_query', "format must be 'json' or 'csv'.");
    const profiles = store.scans.profiles(task.id, skip, limit ?? -1).map((p) => p.profile);
    res.set('X-Total-Count', String(store.scans.profileCount(task.id)));
    if (format === 'csv') {
      res.type('text/csv').attachment(`${task.collection}.csv`).send(toCsv(profiles, PROFILE_COLUMNS));
    } else {
      res.json(profiles);
    }
  });

  router.get('/scan/:collection/outliers', ...guard, (req, res) => {
    const task = finishedTask(req, res);
    const contamination = contaminationOf(req.query.contamination, config.scan.contamination);
    const { profiled, outliers } = collectionOutliers(store.scans, task, contamination);
    res.json({
      collection: task.collection,
      detector: 'ECOD',
      contamination,
      threshold: outliers.threshold,
      total: profiled.length,
      columns: outliers.columns.filter((c) => !outliers.constantColumns.includes(c)),
      outliers: outliers.outliers.map((o) => ({
        file: profiled[o.index].name,
        score: o.score,
        columns: o.columns.map((c) => ({ ...c, value: profiled[o.index].profile[c.column] ?? null })),
      })),
    });
  });

  router.get('/scan/:collection/report', ...guard, async (req, res) => {
    const task = finishedTask(req, res);
    const contamination = contaminationOf(req.query.contamination, config.scan.contamination);
    res.type('html').send(await reports.report(task, contamination));
  });

  router.delete('/scan/:collection', ...guard, (req, res) => {
    const collection = id(String(req.params.collection), 'collection');
    if (!store.scans.deleteCollection(requestCaller(res).clientId, collection)) throw new HttpError(404, 'not_found', `No collection ${collection}.`);
    res.status(204).end();
  });

  router.use(scanErrors);
  return router;
}

/** Errors as BQAT's FastAPI server words them (`detail`), with our machine-readable `error` code. */
const scanErrors: ErrorRequestHandler = (error, req, res, next) => {
  if (!req.path.startsWith('/scan') && !req.path.startsWith('/task')) {
    next(error);
    return;
  }
  const known =
    error instanceof IntakeError
      ? new HttpError(error.status, error.code, error.message)
      : error instanceof multer.MulterError
        ? multerError(error)
        : classify(error);
  if (!known) {
    req.log.error({ err: error }, 'scan request failed');
    res.status(500).json({ error: 'internal_error', detail: 'The service failed to handle this request.' });
    return;
  }
  res.status(known.status).json({ error: known.code, detail: known.message });
};

function multerError(error: multer.MulterError): HttpError {
  if (error.code === 'LIMIT_FILE_SIZE') return new HttpError(413, 'file_too_large', 'A file of the upload is larger than this service accepts.');
  if (error.code === 'LIMIT_FILE_COUNT') return new HttpError(413, 'too_many_files', 'The upload holds more files than one scan takes.');
  return new HttpError(400, 'invalid_upload', `The multipart upload is malformed: ${error.message}.`);
}
