import { analysisOptions, loadConfig } from '../../src/config';
import type { ModelName } from '../../src/models/catalog';
import { loadModels, type ModelRegistry } from '../../src/models/registry';

/** The default configuration's models (or those of `load`), loaded once for the test file and released after it. */
export function useModels(load?: ModelName[]) {
  const config = loadConfig({});
  const options = analysisOptions(config);
  let registry: ModelRegistry | undefined;
  beforeAll(async () => {
    registry = await loadModels(load ? { ...config.models, load } : config.models);
  });
  afterAll(async () => {
    await registry?.release();
  });
  return {
    config,
    options,
    models: (): ModelRegistry => {
      if (!registry) throw new Error('models are loaded in beforeAll');
      return registry;
    },
  };
}
