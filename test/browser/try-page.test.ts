import type { Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { USER_KEY, useApp } from '../helpers/app';
import { REPORT_SECTIONS } from '../../src/scan/report';
import { describeWithChromium, HOST_NAME, launchChromium, serve } from '../helpers/browser';
import { describeWithFaces, facePath } from '../helpers/faces';
import { faceFreeJpeg } from '../helpers/images';

// The real app on the real models, served over plain HTTP and opened by a host name in Chromium.
const testApp = useApp();
const PAGE_TIMEOUT = 60_000;

describeWithChromium('in Chromium over plain HTTP, by host name', () => {
  let server: Server;
  let base: string;
  let browser: Browser;
  /** Console errors of the pages opened, CSP violations among them. */
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    ({ server, base } = await serve(testApp().app));
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((done) => server?.close(done));
  });
  afterEach(() => {
    // Chromium logs every 4xx answer a page fetched; the page shows the gates' 400s and 401s itself.
    const shownByThePage = /^Failed to load resource: the server responded with a status of 40[01] /;
    expect(consoleErrors.filter((text) => !shownByThePage.test(text))).toEqual([]);
    consoleErrors.length = 0;
  });

  async function open(path: string, headers: Record<string, string> = {}): Promise<Page> {
    const context = await browser.newContext({ extraHTTPHeaders: headers });
    const page = await context.newPage();
    page.setDefaultTimeout(PAGE_TIMEOUT);
    page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()));
    page.on('requestfailed', (failed) => consoleErrors.push(`ERR_ ${failed.url()} ${failed.failure()?.errorText}`));
    await page.goto(`${base}${path}`);
    return page;
  }

  it('renders /docs: Swagger UI shows the API and its operations', async () => {
    const page = await open('/docs/');
    expect(new URL(page.url()).protocol).toBe('http:');
    await page.locator('.swagger-ui .info .title').waitFor();
    expect(await page.locator('.swagger-ui .info .title').textContent()).toContain('FaceGate');
    await page.locator('.opblock-summary-path', { hasText: '/NFFS-FIQA/v1/predict' }).first().waitFor();
    await page.context().close();
  });

  it('serves /try/ (and / leads there) with a policy that allows the page and nothing inline', async () => {
    const home = await request(testApp().app).get('/').expect(302);
    expect(home.headers.location).toBe('/try/');
    expect((await request(testApp().app).get('/try').expect(301)).headers.location).toBe('/try/');
    await request(testApp().app).get('/try/nothing.js').expect(404, { error: 'not_found', message: 'No route for GET /try/nothing.js.' });
    const page = await request(testApp().app).get('/try/').expect(200);
    const policy = page.headers['content-security-policy'];
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain('img-src blob:;');
    expect(policy).not.toContain('unsafe-inline');
    expect(policy).not.toContain('upgrade-insecure-requests');
    expect(page.headers['permissions-policy']).toContain('camera=(self)');
    expect(page.text).not.toMatch(/<script>|<script [^>]*>[^<]/);
  });

  it('renders a scan report: every section, its charts and its inline style', async () => {
    const upload = await request(testApp().app)
      .post('/scan/uploaded')
      .set('Authorization', USER_KEY)
      .attach('files', await faceFreeJpeg(1), 'one.jpg')
      .attach('files', await faceFreeJpeg(2), 'two.jpg')
      .expect(202);
    await testApp().deps.scanner.idle();
    const page = await open(`/scan/${upload.body.collection}/report`, { Authorization: USER_KEY });
    for (const id of REPORT_SECTIONS) expect(await page.locator(`section#${id} h2`).isVisible()).toBe(true);
    expect(await page.locator('section#distributions svg').count()).toBeGreaterThan(0);
    expect(await page.evaluate('document.styleSheets[0].cssRules.length')).toBeGreaterThan(0);
    await page.context().close();
  });

  it('starts the webcam where the browser offers one (a fake camera; a secure origin, as over HTTPS) and checks its frame', async () => {
    const camera = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--unsafely-treat-insecure-origin-as-secure=${base}`]);
    try {
      const page = await camera.newPage();
      page.setDefaultTimeout(PAGE_TIMEOUT);
      await page.goto(`${base}/try/`);
      await page.fill('#key', USER_KEY);
      expect(await page.locator('#camera-note').isHidden()).toBe(true);
      await page.click('#camera-start');
      await page.click('#camera-shoot'); // waits until it is enabled: once the first frame has arrived
      await page.locator('#photo-name', { hasText: 'Camera photo' }).waitFor();
      await page.locator('#status', { hasText: 'Done.' }).waitFor();
      // Chromium's fake camera films a test pattern: no face, and both gates say so.
      expect(await page.locator('#qitech-outcome').textContent()).toMatch(/^Not approved, no_faces: /);
      expect(await page.locator('#fiqa-outcome').textContent()).toBe('Not accepted: Your Image not accepted. Face not detected or Multiple faces detected.');
      expect(await page.locator('#camera').isHidden()).toBe(true);
    } finally {
      await camera.close();
    }
  });

  describeWithFaces('the try page with the shared photos', () => {
    let page: Page;
    beforeAll(async () => {
      page = await open('/');
    });
    afterAll(async () => {
      await page?.context().close();
    });

    const choose = async (file: string) => {
      await page.setInputFiles('#file', facePath(file));
      await page.locator('#photo-name', { hasText: file }).waitFor();
    };
    const checkPhoto = async () => {
      await page.click('#check');
      await page.locator('#status', { hasText: 'Done.' }).waitFor();
    };
    const drawn = () => page.locator('#canvas').getAttribute('aria-label');

    it('opens at /try/ over plain HTTP, and says the camera needs HTTPS', async () => {
      expect(page.url()).toBe(`${base}/try/`);
      expect(new URL(page.url()).hostname).toBe(HOST_NAME);
      expect(await page.locator('#camera-start').isDisabled()).toBe(true);
      expect(await page.locator('#camera-note').textContent()).toContain('needs HTTPS');
    });

    it('says so when a file is not an image, when no key is typed, and when the key is refused', async () => {
      await page.setInputFiles('#file', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a photo') });
      await page.locator('#status', { hasText: 'This file is not an image the browser can show' }).waitFor();
      expect(await page.locator('#check').isDisabled()).toBe(true);
      await choose('facenet_paul_rudd_1.jpg');
      await page.click('#check');
      await page.locator('#status', { hasText: 'Type the API key first.' }).waitFor();
      await page.fill('#key', 'a-key-nobody-configured-0123456789');
      await page.click('#check');
      await page.locator('#status', { hasText: 'The key was refused: check it.' }).waitFor();
      expect(await page.locator('#fiqa-outcome').textContent()).toMatch(/^401: /);
      expect(await page.locator('#qitech-outcome').textContent()).toMatch(/^401 unauthorized: /);
      expect(await drawn()).toBe('The photo with 0 faces, 0 landmarks and 0 occluded regions drawn over it');
    });

    it('shows both verdicts of a good portrait with its face drawn', async () => {
      await page.fill('#key', USER_KEY);
      await checkPhoto();
      expect(await page.locator('#fiqa-outcome').textContent()).toBe('Accepted: Your Image accepted.');
      expect(await page.locator('#fiqa-details').textContent()).toMatch(/no region occluded.*quality score 0\.\d+ \(good enough\)/);
      expect(await page.locator('#qitech-outcome').textContent()).toMatch(/^Accepted: stored as image_key [0-9a-f-]{36} \(\d+×\d+\)$/);
      expect(await drawn()).toBe('The photo with 1 face, 468 landmarks and 0 occluded regions drawn over it');
    });

    it('shows a masked face rejected by both, with the reasons and the covered regions drawn', async () => {
      await choose('maskdet_with_mask043.jpg');
      await checkPhoto();
      expect(await page.locator('#fiqa-outcome').textContent()).toBe('Not accepted: Your Image not accepted. Face is Occluded.');
      expect(await page.locator('#fiqa-details').textContent()).toMatch(/occluded: .*mouth/);
      expect(await page.locator('#qitech-outcome').textContent()).toMatch(/^Not approved, wearing_acessories: /);
      expect(await page.locator('#qitech-reasons tbody tr', { hasText: 'occlusion_' }).count()).toBeGreaterThan(0);
      expect(await drawn()).toMatch(/^The photo with 1 face, 468 landmarks and [2-9]\d* occluded regions drawn over it$/);
      await page.screenshot({ path: '/tmp/trypage-masked.png', fullPage: true });
    });

    it('enrolls one photo and authenticates the same person with another; the key is kept nowhere', async () => {
      await page.fill('#username', 'matt');
      await choose('deepface_img29.jpg');
      await page.click('#enroll');
      await page.locator('#enroll-outcome', { hasText: 'Enrollment' }).waitFor();
      expect(await page.locator('#enroll-outcome').textContent()).toBe('Enrollment APPROVED: ENROLLED_AS_USER');
      await choose('deepface_img31.jpg');
      await page.click('#authenticate');
      await page.locator('#enroll-outcome', { hasText: 'Authentication' }).waitFor();
      expect(await page.locator('#enroll-outcome').textContent()).toMatch(/^Authentication APPROVED: AUTHENTIFICATION_SUCCESS, score 0\.\d+$/);
      expect(await page.evaluate('[localStorage.length, sessionStorage.length, document.cookie]')).toEqual([0, 0, '']);
    });
  });
});
