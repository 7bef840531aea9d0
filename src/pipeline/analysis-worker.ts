import { parentPort, workerData } from 'node:worker_threads';
import { loadModels, type ModelRegistry } from '../models/registry';
import { CLOSE, type AnalysisJob, type JobResult, type WorkerMessage, type WorkerSetup } from './analysis-protocol';
import { analyze, analyzeCounted, assess } from './analyze';
import { runCascade } from './cascade';
import { ImageError } from './decode';
import { type StageRecord, stageRecord } from './stages';

/** The thread's side of the analysis pool: loads the models once, then analyses one image per message. */
async function serve(setup: WorkerSetup): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('the analysis worker runs only as a worker thread');
  const send = (message: WorkerMessage) => port.postMessage(message);
  let models: ModelRegistry;
  try {
    models = await loadModels(setup.models);
  } catch (error) {
    send({ type: 'fatal', error: (error as Error).message });
    return;
  }
  // Releasing the sessions (or ending the thread) during a model run aborts the whole process, so
  // a close waits for the analysis under way.
  let current: Promise<void> = Promise.resolve();
  port.on('message', (job: AnalysisJob | typeof CLOSE) => {
    if (job === CLOSE) {
      void current.finally(() => models.release()).finally(() => port.close());
      return;
    }
    const record = job.recordStages ? stageRecord() : undefined;
    current = run(job, models, record).then(
      (result) => send({ type: 'done', id: job.id, result, record }),
      (error: unknown) =>
        send({ type: 'failed', id: job.id, error: (error as Error).message, code: error instanceof ImageError ? error.code : undefined }),
    );
  });
  send({ type: 'ready' });
}

function run({ task, bytes, options }: AnalysisJob, models: ModelRegistry, record?: StageRecord): Promise<JobResult> {
  switch (task.kind) {
    case 'analyze':
      return analyze(bytes, models, options, record);
    case 'assess':
      return assess(bytes, models, options, record);
    case 'counted':
      return analyzeCounted(bytes, models, options, task.countAt, record);
    case 'cascade':
      return runCascade(bytes, models, options, task.stops, record);
  }
}

void serve(workerData as WorkerSetup);
