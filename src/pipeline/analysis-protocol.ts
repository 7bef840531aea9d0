import type { ModelOptions } from '../models/registry';
import type { AnalysisOptions, FaceAnalysis, FaceAssessment } from './analyze';
import type { CascadeResult, CascadeStops } from './cascade';
import type { ImageErrorCode } from './decode';
import type { StageRecord } from './stages';

/** What an analysis worker is started with. */
export interface WorkerSetup {
  models: ModelOptions;
}

export interface AnalysisJob {
  id: number;
  /**
   * `assess` leaves out liveness and the crop (`FaceAssessment`); `analyze` gives whole
   * `FaceReport`s; `cascade` runs the staged cascade (`runCascade`) to `stops`.
   */
  kind: 'analyze' | 'assess' | 'cascade';
  bytes: Uint8Array;
  options: AnalysisOptions;
  stops?: CascadeStops;
  /** Time each stage and model run, and send the record back with the result. */
  recordStages: boolean;
}

/** Asks the worker to release its models and end. */
export const CLOSE = 'close';

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'fatal'; error: string }
  | { type: 'analysed'; id: number; analysis: FaceAnalysis<FaceAssessment>; record?: StageRecord }
  | { type: 'cascaded'; id: number; result: CascadeResult; record?: StageRecord }
  /** `code` is set when the image itself was at fault (an ImageError). */
  | { type: 'failed'; id: number; error: string; code?: ImageErrorCode };
