import { parentPort, workerData } from 'node:worker_threads';
import { loadModels, type ModelRegistry } from '../models/registry';
import { profileImage } from './profile';
import { CLOSE, type ProfileJob, type WorkerMessage, type WorkerSetup } from './worker-protocol';

/** The thread's side of the analysis pool: loads the models once, then profiles one image per message. */
async function serve(setup: WorkerSetup): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('the scan worker runs only as a worker thread');
  const send = (message: WorkerMessage) => port.postMessage(message);
  let models: ModelRegistry;
  try {
    models = await loadModels(setup.models);
  } catch (error) {
    send({ type: 'fatal', error: (error as Error).message });
    return;
  }
  port.on('message', (job: ProfileJob | typeof CLOSE) => {
    if (job === CLOSE) {
      void models.release().finally(() => port.close());
      return;
    }
    profileImage(job.file, job.bytes, models, setup.analysis, setup.thumbnailSize).then(
      ({ profile, thumbnail }) => send({ type: 'profiled', id: job.id, profile, thumbnail }),
      (error: unknown) => send({ type: 'failed', id: job.id, error: (error as Error).message }),
    );
  });
  send({ type: 'ready' });
}

void serve(workerData as WorkerSetup);
