import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/config';
import { describeWithFaces, facePath } from '../helpers/faces';
import { faceFreeJpeg } from '../helpers/images';

/** `npx facegate analyze <args>`: its stdout lines and exit code. */
function analyzeCli(args: string[]): { lines: string[]; status: number | null } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli.ts'), 'analyze', ...args], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  return { lines: run.stdout.split('\n').filter(Boolean), status: run.status };
}

describe('facegate analyze', () => {
  it('prints one JSON object per image by default, and one readable line with --summary', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'facegate-cli-')), 'empty.jpg');
    writeFileSync(file, await faceFreeJpeg());
    const json = analyzeCli([file]);
    expect(json.status).toBe(0);
    expect(json.lines).toHaveLength(1);
    expect(JSON.parse(json.lines[0])).toMatchObject({ file, format: 'jpeg', faces: [] });

    const summary = analyzeCli(['--summary', file, join(PROJECT_ROOT, 'README.md')]);
    expect(summary.status).toBe(1);
    expect(summary.lines).toEqual([
      `${file}: no face; FIQA rejected: face_count (0 faces); QI Tech rejected: no_faces [face_count 0 (min 1)]`,
      `${join(PROJECT_ROOT, 'README.md')}: error unsupported_format: The image is neither JPEG nor PNG.`,
    ]);
  });
});

describeWithFaces('facegate analyze --summary on real faces', () => {
  it('prints one line per face with both verdicts, their reasons and the key measures', () => {
    const one = facePath('deepface_img29.jpg');
    const five = facePath('compreface_000_5.jpg');
    const { lines, status } = analyzeCli([one, five, '--summary']);
    expect(status).toBe(0);
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(
      new RegExp(
        `^${one} face 1/1: FIQA accepted \\(iqa 0\\.\\d+\\); QI Tech (accepted|rejected: \\w+ \\[.+\\]); confidence 0\\.\\d+, box \\d+,\\d+ \\d+x\\d+, ipd [\\d.]+ px, ` +
          'yaw -?[\\d.]+ pitch -?[\\d.]+ roll -?[\\d.]+, quality [\\d.]+, sharpness [\\d.]+, brightness [\\d.]+, most occluded \\w+ [\\d.]+, liveness [\\d.]+$',
      ),
    );
    for (const [i, line] of lines.slice(1).entries()) {
      expect(line.startsWith(`${five} face ${i + 1}/5: FIQA rejected: face_count (5 faces); QI Tech rejected: multiple_faces [face_count 5 (max 1)]; confidence`)).toBe(true);
    }
  });
});
