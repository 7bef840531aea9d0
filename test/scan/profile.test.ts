import { readFileSync } from 'node:fs';
import { ISO_COMPONENT_NAMES } from '../../src/gate/iso29794';
import { BQAT_FACE_FIELDS, bqatProfile, EXTRA_FIELDS, ISO_FIELDS } from '../../src/scan/profile';
import { analyze } from '../../src/pipeline/analyze';
import { describeWithFaces, facePath } from '../helpers/faces';
import { faceFreeJpeg } from '../helpers/images';
import { useModels } from '../helpers/models';

const m = useModels();

describe('BQAT profile', () => {
  it('keeps file and size for an image without a face, every face field null', async () => {
    const profile = bqatProfile('empty.jpg', await analyze(await faceFreeJpeg(), m.models(), m.options));
    expect(profile).toMatchObject({ file: 'empty.jpg', image_height: 480, image_width: 640, face_count: 0 });
    for (const field of [...BQAT_FACE_FIELDS, ...EXTRA_FIELDS.filter((f) => f !== 'face_count')]) expect(profile[field]).toBeNull();
    // The ISO components fail to assess: native null, scalar -1 as the standard has it.
    for (const name of ISO_COMPONENT_NAMES) expect([profile[name], profile[`${name}.scalar`]]).toEqual([null, -1]);
  });
});

describeWithFaces('BQAT profile of a real face', () => {
  it('has every BQAT field, pupils inside the box and relative to it, capitalised pose labels', async () => {
    const analysis = await analyze(readFileSync(facePath('deepface_img29.jpg')), m.models(), { ...m.options, isoPixels: true }); // as profileImage analyses
    const profile = bqatProfile('deepface_img29.jpg', analysis);
    for (const field of BQAT_FACE_FIELDS) expect(profile[field]).not.toBeNull();
    const width = Number(profile.bbox_right) - Number(profile.bbox_left);
    for (const axis of ['pupil_right_x', 'pupil_left_x']) {
      expect(Number(profile[axis])).toBeGreaterThan(0);
      expect(Number(profile[axis])).toBeLessThan(width);
    }
    // The subject's right pupil is on the image's left.
    expect(Number(profile.pupil_right_x)).toBeLessThan(Number(profile.pupil_left_x));
    expect(profile.ipd).toBe(Math.round(analysis.faces[0].geometry.ipd));
    for (const field of ['yaw_pose', 'pitch_pose', 'roll_pose']) expect(String(profile[field])).toMatch(/^(Forward|Left|Right|Level|Up|Down|Clockwise|Anti-clockwise)$/);
    expect(typeof profile.glasses).toBe('boolean');
    expect(profile.face_count).toBe(1);
    // Every ISO component under OFIQ's CSV names, its native value and 0-100 scalar (head coverings cannot be assessed).
    expect(ISO_FIELDS).toEqual(ISO_COMPONENT_NAMES.flatMap((name) => [name, `${name}.scalar`]));
    for (const name of ISO_COMPONENT_NAMES.filter((n) => n !== 'NoHeadCoverings')) {
      expect(typeof profile[name]).toBe('number');
      expect(profile[`${name}.scalar`]).toEqual(expect.any(Number));
      expect(Number(profile[`${name}.scalar`])).toBeGreaterThanOrEqual(0);
    }
    expect(profile.HeadPoseYaw).toBe(analysis.faces[0].geometry.yaw);
  });
});
