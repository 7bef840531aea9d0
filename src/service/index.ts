import type { Config } from '../config';
import { type AnalysisOptions, type Analyzer, detectingFrom } from '../pipeline/analyze';
import type { Scanner } from '../scan/scanner';
import type { Store } from '../store';
import { type EnrollmentFlows, enrollmentFlows } from './enrollment';
import { type ImageFlows, imageFlows } from './images';
import { type ScanFlows, scanFlows } from './scans';
import { type UserFlows, userFlows } from './users';

/** Every flow the API families call, over one store. */
export interface Services {
  enrollment: EnrollmentFlows;
  images: ImageFlows;
  users: UserFlows;
  scans: ScanFlows;
}

export interface ServiceDeps {
  config: Config;
  analyzer: Analyzer;
  store: Store;
  scanner: Scanner;
  /** The configured analysis options; each flow lowers the detector to its own gate's threshold. */
  options: AnalysisOptions;
}

export function createServices({ config, analyzer, store, scanner, options }: ServiceDeps): Services {
  const enrollment = enrollmentFlows({ config, analyzer, store, options: detectingFrom(options, config.gate.fiqa.detection) });
  return {
    enrollment,
    images: imageFlows({ config, analyzer, store, options: detectingFrom(options, config.gate.photo.detection) }),
    users: userFlows(store, enrollment.follow),
    scans: scanFlows({ config, store, scanner }),
  };
}
