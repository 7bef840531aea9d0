import type { ErrorRequestHandler, RequestHandler } from 'express';
import { PoolError } from '../pipeline/analysis-pool';

/** An error whose message is meant for the client, with the HTTP status to send. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface BodyParserError {
  type?: string;
  /** Set by zlib when the body does not inflate: Z_DATA_ERROR, Z_BUF_ERROR, ERR__ERROR_FORMAT_… (brotli). */
  code?: string;
}

const DECOMPRESSION_FAILED = /^(Z_|ERR__ERROR_)/;

// What busboy (under multer) throws for a multipart body it cannot parse.
const MALFORMED_MULTIPART = /^(Multipart: |Unexpected end of form|Malformed part header)/;

/**
 * Maps body-parser and multipart failures to client errors, and work refused by a closing analysis
 * pool (a request still queued when the server stops) to 503; anything else (undefined) is an
 * internal fault.
 */
export function classify(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (error instanceof PoolError && error.kind === 'closed') {
    return new HttpError(503, 'shutting_down', 'The service is shutting down; send the request again shortly.');
  }
  if (error instanceof Error && MALFORMED_MULTIPART.test(error.message)) {
    return new HttpError(400, 'invalid_multipart', `The multipart body is malformed: ${error.message}.`);
  }
  const type = (error as BodyParserError | undefined)?.type;
  if (type === 'entity.parse.failed') return new HttpError(400, 'invalid_json', 'The request body is not valid JSON.');
  // The client left before its body arrived: nobody reads the answer, but it is no fault of ours.
  if (type === 'request.aborted') return new HttpError(400, 'request_aborted', 'The client closed the connection before its body arrived.');
  if (type === 'entity.too.large') return new HttpError(413, 'payload_too_large', 'The request body is larger than this service accepts.');
  if (DECOMPRESSION_FAILED.test((error as BodyParserError | undefined)?.code ?? '')) {
    return new HttpError(400, 'corrupt_encoding', 'The request body does not decode as its content-encoding says.');
  }
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new HttpError(415, 'unsupported_encoding', 'The request body encoding is not supported.');
  }
  return undefined;
}

/**
 * Multipart bodies are read as they come (multer does not decompress): one sent with a
 * content-encoding other than identity is refused rather than parsed as if it had none.
 */
export const identityEncodingOnly: RequestHandler = (req, _res, next) => {
  // As body-parser reads it: an empty header is no encoding.
  const encoding = (req.headers['content-encoding'] || 'identity').trim().toLowerCase();
  next(encoding === 'identity' ? undefined : new HttpError(415, 'unsupported_encoding', 'The request body encoding is not supported: send multipart bodies uncompressed.'));
};

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `No route for ${req.method} ${req.path}.`));
};

/** The one place errors become responses: a JSON body, never a stack trace, SQL or file path. */
export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const known = classify(error);
  if (known) {
    res.status(known.status).json({ error: known.code, message: known.message });
    return;
  }
  req.log.error({ err: error }, 'unhandled error');
  res.status(500).json({ error: 'internal_error', message: 'The service failed to handle this request.' });
};
