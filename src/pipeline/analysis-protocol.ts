import type { ModelOptions } from '../models/registry';
import type { AnalysisOptions, CountedAnalysis, FaceAnalysis, FaceAssessment } from './analyze';
import type { CascadeResult, CascadeStops } from './cascade';
import type { ImageErrorCode } from './decode';
import type { StageRecord } from './stages';

/** What an analysis worker is started with. */
export interface WorkerSetup {
  models: ModelOptions;
}

export interface AnalysisJob {
  id: number;
  bytes: Uint8Array;
  options: AnalysisOptions;
  /**
   * `assess` leaves out liveness and the crop (`FaceAssessment`); `analyze` gives whole
   * `FaceReport`s; `counted` the whole analysis only for exactly one face at `countAt`
   * (`analyzeCounted`); `cascade` runs the staged cascade (`runCascade`) to `stops`.
   */
  task: { kind: 'analyze' } | { kind: 'assess' } | { kind: 'counted'; countAt: number } | { kind: 'cascade'; stops: CascadeStops };
  /** Time each stage and model run, and send the record back with the result. */
  recordStages: boolean;
}

/** What a job gives, by its kind. */
export type JobResult = FaceAnalysis<FaceAssessment> | CountedAnalysis | CascadeResult;

/** Asks the worker to release its models and end. */
export const CLOSE = 'close';

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'fatal'; error: string }
  | { type: 'done'; id: number; result: JobResult; record?: StageRecord }
  /** `code` is set when the image itself was at fault (an ImageError). */
  | { type: 'failed'; id: number; error: string; code?: ImageErrorCode };
