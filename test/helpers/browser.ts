import { accessSync, constants } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { type Browser, chromium } from 'playwright-core';

/** Debian's chromium, or the one FACEGATE_CHROMIUM names (.ci/run sets it). */
export const CHROMIUM = process.env.FACEGATE_CHROMIUM ?? '/usr/bin/chromium';

/** A made-up host name the browser resolves to this machine: pages are opened by name, as users do, not as localhost. */
export const HOST_NAME = 'facegate.test';

const chromiumAvailable = ((): boolean => {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();

/** `describe` when Chromium is installed; otherwise one skipped test and a warning, both naming where it was looked for. */
export function describeWithChromium(name: string, body: () => void): void {
  if (chromiumAvailable) {
    describe(name, body);
    return;
  }
  describe(name, () => {
    it.skip(`needs Chromium at ${CHROMIUM} (absent here: apt-get install chromium, or set FACEGATE_CHROMIUM)`, () => undefined);
  });
  console.warn(`SKIPPED "${name}": no Chromium at ${CHROMIUM} (apt-get install chromium, or set FACEGATE_CHROMIUM)`);
}

/**
 * Headless Chromium resolving HOST_NAME to 127.0.0.1, with no proxy; `args` adds flags. Shared
 * memory goes to /tmp: containers' /dev/shm (64 MB by default) is too small for Chromium.
 */
export function launchChromium(args: string[] = []): Promise<Browser> {
  const root = process.getuid?.() === 0;
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [`--host-resolver-rules=MAP ${HOST_NAME} 127.0.0.1`, '--no-proxy-server', '--disable-dev-shm-usage', ...(root ? ['--no-sandbox'] : []), ...args],
  });
}

/** Serves `app` on an ephemeral port of 127.0.0.1; the base URL names HOST_NAME. */
export async function serve(app: Express): Promise<{ server: Server; base: string }> {
  const server = createServer(app);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, base: `http://${HOST_NAME}:${(server.address() as AddressInfo).port}` };
}
