/**
 * `npm run gate:examples [-- <folder>]`: writes photos that show each gate outcome, made from the
 * shared photo set (default folder: examples/, not committed). The README's curl calls send them.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { analysisOptions, loadConfig, PROJECT_ROOT } from '../src/config';
import { loadModels } from '../src/models/registry';
import { analyze } from '../src/pipeline/analyze';
import { FACES_DIR, facePath, facesAvailable } from './dataset';
import { runScript } from './markdown';
import { blurred, closeUp, cutAtEdge, exposed, rotated, scaledTo, shrunkIntoCorner, sideBySide } from './transforms';

async function main(): Promise<void> {
  if (!facesAvailable) throw new Error(`the photo set is absent: ${FACES_DIR}`);
  const folder = resolve(process.argv[2] ?? join(PROJECT_ROOT, 'examples'));
  mkdirSync(folder, { recursive: true });
  const photo = (file: string) => scaledTo(readFileSync(facePath(file)), 1024);
  const config = loadConfig();
  const models = await loadModels(config.models);
  const portrait = await photo('facenet_paul_rudd_1.jpg');
  const wider = await photo('deepface_img30.jpg');
  const boxOf = async (bytes: Buffer) => (await analyze(bytes, models, analysisOptions(config))).faces[0].geometry.faceBox;
  const [box, widerBox] = [await boxOf(portrait), await boxOf(wider)];
  await models.release();
  const two = await sideBySide(portrait, await photo('inspireface_RD_d1.jpg'));

  const examples: Record<string, Buffer> = {
    'nodeflux-accepted.jpg': await photo('deepface_img2.jpg'),
    'nodeflux-two-faces.jpg': two,
    'nodeflux-occluded.jpg': await photo('maskdet_with_mask043.jpg'),
    'nodeflux-low-quality.jpg': await blurred(await photo('deepface_img2.jpg'), 8),
    'qitech-accepted.jpg': portrait,
    'qitech-multiple_faces.jpg': two,
    'qitech-close_face.jpg': await closeUp(portrait, box),
    'qitech-distant_face.jpg': await shrunkIntoCorner(portrait, 0.3),
    'qitech-not_centered.jpg': await cutAtEdge(wider, widerBox, 0.25),
    'qitech-inclined_face.jpg': await rotated(portrait, 25),
    'qitech-wearing_acessories.jpg': await photo('maskdet_with_mask043.jpg'),
    'qitech-facial_expression.jpg': await photo('deepface_img18.jpg'),
    'qitech-brightness_problem.jpg': await exposed(portrait, 0.25),
    'qitech-sharpness_problem.jpg': await blurred(portrait, 6),
    'qitech-no_faces.jpg': await photo('skimage_coffee.png'),
  };
  for (const [name, bytes] of Object.entries(examples)) writeFileSync(join(folder, name), bytes);
  console.log(`wrote ${Object.keys(examples).length} photos to ${folder}`);
}

runScript(main);
