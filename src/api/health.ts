import { Router } from 'express';
import type { ModelName } from '../models/catalog';
import type { Analyzer } from '../pipeline/analyze';
import type { Store } from '../store';

/** `/health`: the process answers. `/ready`: every configured model is loaded and the database takes writes. */
export function healthRoutes(analyzer: Analyzer, expected: readonly ModelName[], store: Store): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const loaded = analyzer.loaded;
    const missing = expected.filter((name) => !loaded.includes(name));
    const writable = await store.isWritable();
    const ready = missing.length === 0 && writable;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not_ready',
      models: { loaded, missing },
      database: writable ? 'writable' : 'not_writable',
    });
  });
  return router;
}
