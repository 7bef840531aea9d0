import type { FiqaThresholds, FiqaVerdict } from '../gate/fiqa';
import type { ModelOptions } from '../models/registry';
import type { AnalysisOptions, FaceAnalysis, FaceAssessment } from './analyze';
import type { ImageErrorCode } from './decode';

/** What an analysis worker is started with. */
export interface WorkerSetup {
  models: ModelOptions;
}

export interface AnalysisJob {
  id: number;
  /**
   * `assess` leaves out liveness and the crop (`FaceAssessment`); `analyze` gives whole
   * `FaceReport`s; `fiqa` gives the FIQA cascade's verdict at `thresholds`.
   */
  kind: 'analyze' | 'assess' | 'fiqa';
  bytes: Uint8Array;
  options: AnalysisOptions;
  thresholds?: FiqaThresholds;
}

/** Asks the worker to release its models and end. */
export const CLOSE = 'close';

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'fatal'; error: string }
  | { type: 'analysed'; id: number; analysis: FaceAnalysis<FaceAssessment> }
  | { type: 'judged'; id: number; verdict: FiqaVerdict }
  /** `code` is set when the image itself was at fault (an ImageError). */
  | { type: 'failed'; id: number; error: string; code?: ImageErrorCode };
