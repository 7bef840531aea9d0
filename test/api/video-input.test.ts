import { readFileSync } from 'node:fs';
import request from 'supertest';
import { scaledTo } from '../../eval/transforms';
import { USER_KEY, useApp } from '../helpers/app';
import { describeWithFaces, facePath } from '../helpers/faces';
import { testPattern } from '../helpers/video';

const testApp = useApp((config) => {
  config.video.maxSeconds = 2;
  config.video.maxFramePixels = 640 * 480;
});

const authenticate = (video: Buffer) =>
  request(testApp().app).post('/api/authentificate?username=matt').set('Authorization', USER_KEY).attach('auth_video', video, 'probe.mp4');

describeWithFaces('videos sent to authenticate', () => {
  it('answers a codec outside H.264/VP8/VP9/AV1 with 400 INVALID_MEDIA, and frames or a duration over the caps with 413 FILE_TOO_LARGE', async () => {
    const photo = await scaledTo(readFileSync(facePath('deepface_img29.jpg')), 1024);
    await request(testApp().app).post('/api/enroll?username=matt').set('Authorization', USER_KEY).attach('cin_file', photo, 'cin.jpg').expect(200);
    const h264 = ['-pix_fmt', 'yuv420p', '-c:v', 'libx264'];
    const cases: [Buffer, number, string][] = [
      [await testPattern({ args: ['-c:v', 'libx265'] }), 400, 'INVALID_MEDIA'],
      [await testPattern({ args: h264, width: 800, height: 600 }), 413, 'FILE_TOO_LARGE'],
      [await testPattern({ args: h264, seconds: 3 }), 413, 'FILE_TOO_LARGE'],
    ];
    for (const [video, status, reason] of cases) {
      const res = await authenticate(video);
      expect({ status: res.status, body: res.body }).toEqual({ status, body: { score: null, Decision: 'REJECTED', DecisionReason: reason } });
    }
  }, 120_000);
});
