import ffmpeg from '@ffmpeg-installer/ffmpeg';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A short H.264 MP4 (or VP8 WebM) showing `still` for `seconds`, made with the shipped ffmpeg. */
export async function videoOfStill(still: Buffer, seconds = 2, format: 'mp4' | 'webm' = 'mp4'): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-video-test-'));
  try {
    writeFileSync(join(dir, 'still.jpg'), still);
    const out = join(dir, `video.${format}`);
    const codec = format === 'mp4' ? ['-pix_fmt', 'yuv420p', '-c:v', 'libx264'] : ['-c:v', 'libvpx'];
    await new Promise<void>((resolve, reject) =>
      execFile(ffmpeg.path, ['-hide_banner', '-loglevel', 'error', '-y', '-loop', '1', '-i', join(dir, 'still.jpg'), '-t', String(seconds), '-r', '10', '-vf', 'scale=640:-2', ...codec, out], (e) => (e ? reject(e) : resolve())),
    );
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
