/**
 * Screenshots an HTML scan report with headless Chromium, to look at the layout without a browser:
 *   npm run report:screenshot -- <report.html> <out.png> [--height <px>]
 * Chromium's --screenshot captures the window only, so the window is made tall (--height, 12000 by
 * default) and the blank rows below the page are cropped off afterwards.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { argValue } from './stats';

const WIDTH = 1280;
const TIMEOUT_MS = 60_000;

function fail(message: string): never {
  console.error(`report-screenshot: ${message}`);
  process.exit(1);
}

function chromiumPath(): string {
  const path = process.env.CHROMIUM ?? '/usr/bin/chromium';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    fail(`no Chromium at ${path} (install Debian's chromium, or set CHROMIUM to its path)`);
  }
  return path;
}

function runChromium(chromium: string, htmlPath: string, pngPath: string, height: number): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'report-screenshot-'));
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${profile}`, '--hide-scrollbars', `--window-size=${WIDTH},${height}`,
    `--screenshot=${pngPath}`, pathToFileURL(htmlPath).href,
  ];
  return new Promise((done, reject) => {
    const child = spawn(chromium, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      done(stderr);
    });
  });
}

/** How many rows from the top hold something other than the colour of the bottom-left pixel. */
async function contentHeight(pngPath: string): Promise<number> {
  const { data, info } = await sharp(pngPath).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const rowBytes = info.width * info.channels;
  const background = data.subarray(data.length - rowBytes, data.length - rowBytes + info.channels);
  for (let row = info.height - 1; row >= 0; row--) {
    const pixels = data.subarray(row * rowBytes, (row + 1) * rowBytes);
    for (let i = 0; i < pixels.length; i++) {
      if (pixels[i] !== background[i % info.channels]) return row + 1;
    }
  }
  return 0;
}

async function cropBlankBottom(pngPath: string, margin = 24): Promise<{ width: number; height: number; cut: boolean }> {
  const { width, height } = await sharp(pngPath).metadata();
  const content = await contentHeight(pngPath);
  const keep = Math.min(height, content + margin);
  if (keep < height) {
    writeFileSync(pngPath, await sharp(pngPath).extract({ left: 0, top: 0, width, height: keep }).png().toBuffer());
  }
  return { width, height: keep, cut: content >= height };
}

async function main(): Promise<void> {
  const [html, png] = process.argv.slice(2).filter((arg, i, all) => !arg.startsWith('--') && all[i - 1] !== '--height');
  if (!html || !png) fail('usage: npm run report:screenshot -- <report.html> <out.png> [--height <px>]');
  const htmlPath = resolve(html);
  const pngPath = resolve(png);
  if (!existsSync(htmlPath)) fail(`no such file: ${htmlPath}`);
  const chromium = chromiumPath();
  rmSync(pngPath, { force: true });
  const stderr = await runChromium(chromium, htmlPath, pngPath, argValue('height', 12000));
  if (!existsSync(pngPath)) fail(`Chromium wrote no PNG to ${pngPath}\n${stderr.trim()}`);
  const { width, height, cut } = await cropBlankBottom(pngPath);
  console.log(`${pngPath}: ${width}x${height} px, ${statSync(pngPath).size} bytes`);
  if (cut) console.log('the page reaches the bottom of the window and may continue: pass a larger --height');
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
