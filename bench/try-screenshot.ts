/**
 * Screenshots the try page with a verdict drawn, for the README:
 *   npm run screenshot [-- --photo <file> --out <png>]
 * Builds the app on the real models with a temporary database, serves it over plain HTTP, opens
 * /try/ in headless Chromium (Debian's, or FACEGATE_CHROMIUM) by host name, types a key, checks the
 * photo and saves the page. The default photo is the shared set's skimage_astronaut.png (NASA, public
 * domain) cropped to her head and shoulders: the shared set's other photos are not ours to publish.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import sharp from 'sharp';
import { createApp } from '../src/api/app';
import { loadApiDocument } from '../src/api/openapi';
import { loadConfig, PROJECT_ROOT } from '../src/config';
import { createKeyring } from '../src/config/api-keys';
import { loadModels } from '../src/models/registry';
import { inProcess } from '../src/pipeline/analysis-pool';
import { createScanner } from '../src/scan/scanner';
import { openStore } from '../src/store';
import { facePath } from '../eval/dataset';
import { CHROMIUM, launchChromium, serve } from '../test/helpers/browser';

const KEY = 'try-page-screenshot-key-0123456789';
const WIDTH = 1280;
const HEIGHT = 900;

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

async function main(): Promise<void> {
  const out = resolve(option('out', join(PROJECT_ROOT, 'docs', 'try-page.png')));
  const dataDir = mkdtempSync(join(tmpdir(), 'facegate-screenshot-'));
  let photo = option('photo', '');
  if (!photo) {
    photo = join(dataDir, 'astronaut-head.png');
    await sharp(facePath('skimage_astronaut.png')).extract({ left: 115, top: 0, width: 220, height: 270 }).toFile(photo);
  }
  const config = loadConfig({ ...process.env, FACEGATE_DATA_DIR: dataDir, FACEGATE_API_KEYS: KEY, FACEGATE_CONFIG: '' });
  const logger = pino({ level: 'silent' });
  const models = await loadModels(config.models);
  const store = await openStore(config.store);
  const scanner = createScanner(config, store.scans, logger);
  const app = createApp({ config, analyzer: inProcess(models), store, keyring: createKeyring(config.auth, dataDir), api: loadApiDocument(), logger, scanner });
  const { server, base } = await serve(app);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: WIDTH, height: HEIGHT } });
    page.setDefaultTimeout(60_000);
    await page.goto(`${base}/try/`);
    await page.fill('#key', KEY);
    await page.setInputFiles('#file', resolve(photo));
    await page.click('#check');
    await page.locator('#status', { hasText: 'Done.' }).waitFor();
    // A 256-colour palette keeps the file about a third of the full-colour PNG's size, the photo still fine.
    await sharp(await page.screenshot()).png({ palette: true, quality: 90, effort: 10 }).toFile(out);
    console.log(`${out}: ${WIDTH}x${HEIGHT} px, ${statSync(out).size} bytes (Chromium ${browser.version()} at ${CHROMIUM}, ${base}/try/)`);
    console.log(`FIQA: ${await page.locator('#fiqa-outcome').textContent()}`);
    console.log(`QI Tech: ${await page.locator('#qitech-outcome').textContent()}`);
    console.log(await page.locator('#canvas').getAttribute('aria-label'));
  } finally {
    await browser.close();
    server.close();
    await scanner.close();
    store.close();
    await models.release();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`try-screenshot: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
