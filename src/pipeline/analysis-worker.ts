import { parentPort, workerData } from 'node:worker_threads';
import { loadModels, type ModelRegistry } from '../models/registry';
import { CLOSE, type AnalysisJob, type WorkerMessage, type WorkerSetup } from './analysis-protocol';
import { analyze, assess } from './analyze';
import { type CascadeStops, runCascade } from './cascade';
import { ImageError } from './decode';
import { stageRecord } from './stages';

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
    const work: Promise<WorkerMessage> =
      job.kind === 'cascade'
        ? runCascade(job.bytes, models, job.options, job.stops as CascadeStops, record).then((result) => ({ type: 'cascaded', id: job.id, result, record }))
        : (job.kind === 'assess' ? assess : analyze)(job.bytes, models, job.options, record).then((analysis) => ({ type: 'analysed', id: job.id, analysis, record }));
    current = work.then(
      (message) => send(message),
      (error: unknown) =>
        send({ type: 'failed', id: job.id, error: (error as Error).message, code: error instanceof ImageError ? error.code : undefined }),
    );
  });
  send({ type: 'ready' });
}

void serve(workerData as WorkerSetup);
