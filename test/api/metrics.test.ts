import { readFileSync } from 'node:fs';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { metricsApp, ServiceMetrics } from '../../src/api/metrics';
import { ADMIN_KEY, OTHER_CLIENT_ADMIN_KEY, OTHER_CLIENT_KEY, USER_KEY, useApp } from '../helpers/app';
import { describeWithFaces, facePath } from '../helpers/faces';
import { faceFreeJpeg } from '../helpers/images';

const testApp = useApp();

const scrape = async (key = ADMIN_KEY): Promise<string> => (await request(testApp().app).get('/metrics').set('Authorization', key).expect(200)).text;

/** The value of one sample (`name{labels}`), 0 when it is not there yet. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text.split('\n').find((l) => {
    const [series] = l.split(' ');
    if (series !== name && !series.startsWith(`${name}{`)) return false;
    return wanted.every((pair) => series.includes(pair));
  });
  return line ? Number(line.split(' ').pop()) : 0;
}

const fiqa = async (image: Buffer) =>
  request(testApp().app).post('/NFFS-FIQA/v1/predict').set('Authorization', USER_KEY).send({ images: [image.toString('base64')] }).expect(200);

describe('GET /metrics', () => {
  it('refuses callers without an admin key: none, a user key, another client user key', async () => {
    const app = testApp().app;
    expect((await request(app).get('/metrics').expect(401)).body).toEqual({ error: 'unauthorized', message: expect.any(String) });
    await request(app).get('/metrics').set('Authorization', USER_KEY).expect(403);
    await request(app).get('/metrics').set('Authorization', OTHER_CLIENT_KEY).expect(403);
    await request(app).get('/metrics').set('Authorization', 'not-a-key-of-this-service').expect(401);
  });

  it('answers admin keys, a client admin key included, in the Prometheus text format with the process metrics', async () => {
    const res = await request(testApp().app).get('/metrics').set('Authorization', OTHER_CLIENT_ADMIN_KEY).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toContain('# TYPE process_cpu_seconds_total counter');
    expect(res.text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(res.text).toContain('# TYPE facegate_http_request_duration_seconds histogram');
  });

  it('counts a FIQA request by route pattern and status, its verdict, its stages, its models and its turn in the queue', async () => {
    const route = { method: 'POST', route: '/NFFS-FIQA/v1/predict', status: '200' };
    const verdict = { family: 'nodeflux', outcome: 'rejected', reason: 'face_count' };
    const before = await scrape();
    await fiqa(await faceFreeJpeg());
    const after = await scrape();
    const moved = (name: string, labels?: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(moved('facegate_http_request_duration_seconds_count', route)).toBe(1);
    expect(moved('facegate_verdicts_total', verdict)).toBe(1);
    expect(moved('facegate_verdicts_total', { family: 'nodeflux', outcome: 'accepted' })).toBe(0);
    expect(moved('facegate_stage_duration_seconds_count', { analysis: 'cascade', stage: 'decode' })).toBe(1);
    expect(moved('facegate_stage_duration_seconds_count', { analysis: 'cascade', stage: 'detect' })).toBe(1);
    // No face: the cascade stops before occlusion.
    expect(moved('facegate_stage_duration_seconds_count', { analysis: 'cascade', stage: 'occlusion' })).toBe(0);
    expect(moved('facegate_model_run_duration_seconds_count', { model: 'blazeface' })).toBeGreaterThanOrEqual(1);
    expect(moved('facegate_model_run_duration_seconds_count', { model: 'occlusion' })).toBe(0);
    expect(moved('facegate_admission_wait_seconds_count')).toBe(1);
    expect(sample(after, 'facegate_admission_queue', { state: 'waiting' })).toBe(0);
    expect(sample(after, 'facegate_scan_tasks', { status: 'running' })).toBe(0);
  });

  it('labels requests with the route pattern, never the raw path with its ids', async () => {
    const key = '00000000-0000-4000-8000-00000000abcd';
    await request(testApp().app).get(`/face_recognition/image/${key}`).set('Authorization', USER_KEY).expect(404);
    await request(testApp().app).get('/no/such/route/secret-name').expect(404);
    const text = await scrape();
    expect(sample(text, 'facegate_http_request_duration_seconds_count', { method: 'GET', route: '/face_recognition/image/:image_key', status: '404' })).toBe(1);
    expect(sample(text, 'facegate_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(key);
    expect(text).not.toContain('secret-name');
  });

  it('shows scan progress and the tasks of the scanner it watches', async () => {
    const metrics = new ServiceMetrics();
    metrics.watch({ active: 2, queued: 3 }, { queue: async () => ({ pending: 2, running: 1 }) });
    metrics.scan.fileScanned('profiled');
    metrics.scan.fileScanned('profiled');
    metrics.scan.fileScanned('failed');
    metrics.scan.taskEnded('done');
    metrics.admission.refused('wait_timeout');
    const text = await metrics.registry.metrics();
    expect(sample(text, 'facegate_scan_files_total', { outcome: 'profiled' })).toBe(2);
    expect(sample(text, 'facegate_scan_files_total', { outcome: 'failed' })).toBe(1);
    expect(sample(text, 'facegate_scan_tasks_ended_total', { status: 'done' })).toBe(1);
    expect(sample(text, 'facegate_scan_tasks', { status: 'pending' })).toBe(2);
    expect(sample(text, 'facegate_scan_tasks', { status: 'running' })).toBe(1);
    expect(sample(text, 'facegate_admission_queue', { state: 'running' })).toBe(2);
    expect(sample(text, 'facegate_admission_queue', { state: 'waiting' })).toBe(3);
    expect(sample(text, 'facegate_admission_refusals_total', { reason: 'wait_timeout' })).toBe(1);
  });

  it('with metrics.port set, is not served on the service port; the separate app serves it, without a key when so configured', async () => {
    const { deps } = testApp();
    const separate = { ...deps.config, metrics: { ...deps.config.metrics, port: 9464 } };
    await request(createApp({ ...deps, config: separate })).get('/metrics').set('Authorization', ADMIN_KEY).expect(404);
    const metrics = new ServiceMetrics();
    metrics.modelsLoaded(1500);
    const open = await request(metricsApp(metrics, deps.keyring, false, deps.logger)).get('/metrics').expect(200);
    expect(sample(open.text, 'facegate_models_load_seconds')).toBe(1.5);
    await request(metricsApp(metrics, deps.keyring, true, deps.logger)).get('/metrics').set('Authorization', USER_KEY).expect(403);
    await request(metricsApp(metrics, deps.keyring, true, deps.logger)).get('/other').expect(404);
  });
});

describeWithFaces('GET /metrics with real faces', () => {
  it('counts an accepted FIQA verdict, with the occlusion and quality stages run', async () => {
    const before = await scrape();
    const res = await fiqa(readFileSync(facePath('deepface_img29.jpg')));
    const after = await scrape();
    const moved = (name: string, labels?: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(res.body).toMatchObject({ message: 'Your Image accepted.' });
    expect(moved('facegate_verdicts_total', { family: 'nodeflux', outcome: 'accepted', reason: 'accepted' })).toBe(1);
    expect(moved('facegate_stage_duration_seconds_count', { analysis: 'cascade', stage: 'occlusion' })).toBe(1);
    expect(moved('facegate_model_run_duration_seconds_count', { model: 'occlusion' })).toBe(1);
  });
});
