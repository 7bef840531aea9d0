import type { RequestHandler } from 'express';
import type { Config } from '../config';
import type { Keyring } from '../config/api-keys';
import type { AnalysisOptions } from '../pipeline/analyze';
import type { ApiDocument } from './openapi';

/** What every family whose requests carry media is built with: the configuration, the keys and the middleware they share. */
export interface MediaRouteDeps {
  config: Config;
  keyring: Keyring;
  /** Wraps a body parser: the per-client upload limit and the body deadline. */
  readBody: (parser: RequestHandler) => RequestHandler;
  /** The shared admission queue of the analysis routes, after the body is read. */
  turn: RequestHandler;
  /** The per-key rate limit, first on every route. */
  perKey: RequestHandler;
}

/** A family that validates its JSON bodies against openapi.yaml and analyses with the configured options. */
export interface AnalysisRouteDeps extends MediaRouteDeps {
  api: ApiDocument;
  options: AnalysisOptions;
}
