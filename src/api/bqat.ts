import { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from 'express';
import multer from 'multer';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config';
import type { Keyring } from '../config/api-keys';
import { toCsv } from '../scan/csv';
import { IntakeError, type ReceivedPart } from '../scan/intake';
import { PROFILE_COLUMNS } from '../scan/profile';
import type { SmoothedEta } from '../scan/eta';
import { progressOf } from '../scan/scanner';
import { IntakeBusy, type ScanFlows, ScanUnfinished } from '../service/scans';
import type { ScanTask } from '../store';
import { requestCaller, requireKey } from './auth';
import { classify, HttpError, identityEncodingOnly } from './errors';
import { IMAGE_KEY } from './image-input';

export interface ScanDeps {
  config: Config;
  scans: ScanFlows;
  keyring: Keyring;
  /** The per-key rate limit, first on every route. */
  perKey: RequestHandler;
}

const uploadTooLarge = (max: number) => new HttpError(413, 'upload_too_large', `The upload is larger than ${max} bytes.`);

/** Seconds a client is asked to wait while its previous upload is still being received and checked. */
const INTAKE_RETRY_AFTER_SECONDS = 5;

/**
 * A multer storage engine that streams each file part to its own file in `folder`, with a cap on
 * all parts of the request together (multer only caps each file): the part passing the cap is
 * cut off there and `cutOff` hears of it at once, and nothing of the upload is ever held whole in memory.
 */
function cappedFolderStorage(folder: string, maxTotalBytes: number, cutOff: (error: HttpError) => void): multer.StorageEngine {
  let received = 0;
  let parts = 0;
  return {
    _handleFile(_req, file, callback) {
      const path = join(folder, `part-${parts++}`);
      const cap = new Transform({
        transform(chunk: Buffer, _encoding, next) {
          received += chunk.length;
          if (received <= maxTotalBytes) {
            next(null, chunk);
            return;
          }
          const error = uploadTooLarge(maxTotalBytes);
          cutOff(error);
          next(error);
        },
      });
      const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
      pipeline(file.stream, cap, out).then(
        () => callback(null, { path, size: out.bytesWritten }),
        (error: unknown) => callback(error as Error),
      );
    },
    _removeFile(_req, file, callback) {
      rm(file.path, { force: true }).then(() => callback(null), callback);
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

const taskAnswer = (task: ScanTask, errors: { file: string; error: string }[], eta: SmoothedEta | undefined) => {
  const { percent, etaSeconds } = progressOf(task, new Date(), eta);
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
export function scanRoutes({ config, scans, keyring, perKey }: ScanDeps): Router {
  const router = Router();
  /**
   * The request's file parts, streamed into `folder`; settles once multer has (also when the client
   * went away), or as soon as the upload passes its cap. Multer answers an error only once it has
   * read (and dropped) the rest of the body; the 413 goes at once instead, so that a client can stop
   * sending, while multer still drops what comes. Closing the connection instead would lose the
   * answer for clients that are still writing (they get a reset before they read it).
   */
  const receiveParts = (req: Request, res: Response, folder: string) =>
    new Promise<ReceivedPart[]>((resolve, reject) => {
      const upload = multer({ storage: cappedFolderStorage(folder, config.scan.maxUploadBytes, reject), limits: { files: config.scan.maxFiles, fields: 16 } });
      upload.any()(req, res, (error?: unknown) => {
        // A client that went away is not a fault of the service: no one reads the answer, but the log says what happened.
        if (error) reject(req.destroyed ? new HttpError(400, 'upload_cut_short', 'The client closed the connection before the upload was complete.') : error);
        else resolve(((req.files ?? []) as Express.Multer.File[]).map((f) => ({ name: f.originalname, path: f.path, size: f.size })));
      });
    });
  const guard: RequestHandler[] = [perKey, requireKey(keyring, 'user', config.auth.required.scan)];

  const collectionTask = async (req: Request, res: Response, finished: boolean): Promise<ScanTask> => {
    const collection = id(String(req.params.collection), 'collection');
    const client = requestCaller(res).clientId;
    let task: ScanTask | undefined;
    try {
      task = await (finished ? scans.finishedCollection(client, collection) : scans.collection(client, collection));
    } catch (error) {
      if (!(error instanceof ScanUnfinished)) throw error;
      const { status, processed, total } = error.task;
      throw new HttpError(409, 'scan_unfinished', `The scan of this collection is ${status} (${processed} of ${total} images); ask again when it is done.`);
    }
    if (!task) throw new HttpError(404, 'not_found', `No collection ${req.params.collection}.`);
    return task;
  };

  router.post('/scan/uploaded', ...guard, identityEncodingOnly, async (req, res) => {
    let task: ScanTask;
    try {
      task = await scans.intake(requestCaller(res).clientId, (folder) => receiveParts(req, res, folder));
    } catch (error) {
      if (!(error instanceof IntakeBusy)) throw error;
      res.set('Retry-After', String(INTAKE_RETRY_AFTER_SECONDS));
      throw new HttpError(429, 'intake_busy', 'An upload of this client is still being received and checked; one is taken at a time. Try again after Retry-After seconds.');
    }
    res.status(202).location(`/task/${task.id}/`).json({ tid: task.id, collection: task.collection, total: task.total, status: task.status });
  });

  router.get(['/task/:tid', '/task/:tid/status'], ...guard, async (req, res) => {
    const found = await scans.task(requestCaller(res).clientId, id(String(req.params.tid), 'task'));
    if (!found) throw new HttpError(404, 'not_found', `No task ${req.params.tid}.`);
    res.json(taskAnswer(found.task, found.errors, found.eta));
  });

  router.get('/scan/:collection/profiles', ...guard, async (req, res) => {
    const task = await collectionTask(req, res, false);
    const skip = nonNegativeInteger(req.query.skip, 'skip') ?? 0;
    const limit = nonNegativeInteger(req.query.limit, 'limit');
    const format = req.query.format ?? 'json';
    if (format !== 'json' && format !== 'csv') throw new HttpError(400, 'invalid_query', "format must be 'json' or 'csv'.");
    const { profiles, total } = await scans.profiles(task, skip, limit);
    res.set('X-Total-Count', String(total));
    if (format === 'csv') {
      res.type('text/csv').attachment(`${task.collection}.csv`).send(toCsv(profiles, PROFILE_COLUMNS));
    } else {
      res.json(profiles);
    }
  });

  router.get('/scan/:collection/outliers', ...guard, async (req, res) => {
    const task = await collectionTask(req, res, true);
    const contamination = contaminationOf(req.query.contamination, config.scan.contamination);
    const { profiled, outliers } = await scans.outliers(task, contamination);
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
    const task = await collectionTask(req, res, true);
    const contamination = contaminationOf(req.query.contamination, config.scan.contamination);
    res.type('html').send(await scans.report(task, contamination));
  });

  router.delete('/scan/:collection', ...guard, async (req, res) => {
    const collection = id(String(req.params.collection), 'collection');
    if (!(await scans.deleteCollection(requestCaller(res).clientId, collection))) throw new HttpError(404, 'not_found', `No collection ${collection}.`);
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
  if (error.code === 'LIMIT_FILE_COUNT') return new HttpError(413, 'too_many_files', 'The upload holds more files than one scan takes.');
  return new HttpError(400, 'invalid_upload', `The multipart upload is malformed: ${error.message}.`);
}
