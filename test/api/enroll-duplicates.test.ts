import { readFileSync } from 'node:fs';
import request from 'supertest';
import { scaledTo } from '../../eval/transforms';
import { createApp } from '../../src/api/app';
import { ADMIN_KEY, OTHER_CLIENT_KEY, USER_KEY, useApp } from '../helpers/app';
import { describeWithFaces, facePath } from '../helpers/faces';

// From the first template on, the duplicate search goes through the sign-bit scan that big clients use (src/service/duplicate-search.ts).
const testApp = useApp((config) => {
  config.recognition.duplicateIndex.exactBelow = 1;
});

describeWithFaces('duplicate faces with the duplicate-search index in place', () => {
  const photo = (file: string) => scaledTo(readFileSync(facePath(file)), 1024);
  const enroll = async (username: string, file: string, key = USER_KEY, app = testApp().app) =>
    request(app).post(`/api/enroll?username=${username}`).set('Authorization', key).attach('cin_file', await photo(file), 'cin.jpg');
  const reasonOf = async (pending: Promise<request.Response>) => (await pending).body.DecisionReason as string;

  it('refuses a face already enrolled, and follows deletions, resets, clients and restarts', async () => {
    expect(await reasonOf(enroll('matt', 'deepface_img29.jpg'))).toBe('ENROLLED_AS_USER');
    expect(await reasonOf(enroll('angelina', 'deepface_img2.jpg'))).toBe('ENROLLED_AS_USER');
    const refused = await enroll('matt_again', 'deepface_img29.jpg');
    expect([refused.status, refused.body.DecisionReason]).toEqual([409, 'FACE_ALREADY_ENROLLED']);
    // Another client's enrollments are never a duplicate.
    expect(await reasonOf(enroll('matt', 'deepface_img29.jpg', OTHER_CLIENT_KEY))).toBe('ENROLLED_AS_USER');

    await request(testApp().app).delete('/api/users/matt').set('Authorization', USER_KEY).expect(200);
    expect(await reasonOf(enroll('matt_again', 'deepface_img29.jpg'))).toBe('ENROLLED_AS_USER');

    // A restarted service builds its index from the stored templates.
    const restarted = createApp(testApp().deps);
    expect(await reasonOf(enroll('matt_third', 'deepface_img29.jpg', USER_KEY, restarted))).toBe('FACE_ALREADY_ENROLLED');
    expect(await reasonOf(enroll('angelina_again', 'deepface_img2.jpg', USER_KEY, restarted))).toBe('FACE_ALREADY_ENROLLED');

    await request(testApp().app).post('/api/reset').set('Authorization', ADMIN_KEY).expect(200);
    expect(await reasonOf(enroll('matt', 'deepface_img29.jpg'))).toBe('ENROLLED_AS_USER');
    expect(await reasonOf(enroll('matt', 'deepface_img29.jpg', OTHER_CLIENT_KEY))).toBe('DUPLICATE_USERNAME');
  });
});
