import type { ModelOptions } from '../models/registry';
import type { AnalysisOptions } from '../pipeline/analyze';
import type { Profile } from './profile';

/** What a worker is started with. */
export interface WorkerSetup {
  models: ModelOptions;
  analysis: AnalysisOptions;
  thumbnailSize: number;
}

export interface ProfileJob {
  id: number;
  file: string;
  bytes: Uint8Array;
}

/** Asks the worker to release its models and end. */
export const CLOSE = 'close';

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'fatal'; error: string }
  | { type: 'profiled'; id: number; profile: Profile; thumbnail: Uint8Array }
  | { type: 'failed'; id: number; error: string };
