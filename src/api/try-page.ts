import express, { Router } from 'express';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../config';
import { tryPageHeaders } from './security-headers';

const TRY_PAGE_DIR = join(PROJECT_ROOT, 'public', 'try');

/**
 * `/try/`: a page to try the gate in a browser (public/try, plain files, nothing fetched from
 * elsewhere); `/` leads there; `/favicon.ico` is empty. The page calls the public API with a key
 * typed into it, so it serves no data of its own and needs no key.
 */
export function tryPageRoutes(https: boolean): Router {
  const router = Router();
  router.get('/', (_req, res) => {
    res.redirect(302, '/try/');
  });
  // Browsers ask every page's origin for one; no content instead of a 404 in each page's console.
  router.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });
  router.use('/try', tryPageHeaders(https), express.static(TRY_PAGE_DIR));
  return router;
}
