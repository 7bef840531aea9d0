import ffmpeg from '@ffmpeg-installer/ffmpeg';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type VideoErrorCode = 'unsupported_format' | 'too_large' | 'unreadable';

/** A client-side video problem; the APIs turn it into a 4xx. */
export class VideoError extends Error {
  constructor(
    readonly code: VideoErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface FrameOptions {
  maxBytes: number;
  framesPerSecond: number;
  maxFrames: number;
  /** Frames are scaled down to at most this many pixels on their long side. */
  maxSide: number;
  timeoutMs: number;
}

const EBML = [0x1a, 0x45, 0xdf, 0xa3];

/** MP4 and QuickTime (an `ftyp` box first) or WebM/Matroska (EBML), by the file's first bytes. */
export function sniffVideo(bytes: Uint8Array): 'mp4' | 'webm' | undefined {
  if (bytes.length >= 12 && Buffer.from(bytes.subarray(4, 8)).toString('latin1') === 'ftyp') return 'mp4';
  if (bytes.length >= 4 && EBML.every((b, i) => bytes[i] === b)) return 'webm';
  return undefined;
}

/**
 * Samples frames from a video with the ffmpeg binary that @ffmpeg-installer ships: `framesPerSecond`
 * frames a second, at most `maxFrames`, as JPEGs. The video goes through a private temporary
 * folder (MP4's index may sit at the end of the file, so ffmpeg needs to seek), removed afterwards.
 */
export async function videoFrames(bytes: Uint8Array, options: FrameOptions): Promise<Buffer[]> {
  if (bytes.length > options.maxBytes) throw new VideoError('too_large', `The video is ${bytes.length} bytes; the limit is ${options.maxBytes}.`);
  const format = sniffVideo(bytes);
  if (!format) throw new VideoError('unsupported_format', 'The video is neither MP4, MOV nor WebM.');
  const dir = await mkdtemp(join(tmpdir(), 'facegate-video-'));
  try {
    const input = join(dir, `input.${format}`);
    await writeFile(input, bytes, { mode: 0o600 });
    const scale = `scale='if(gt(iw,ih),min(${options.maxSide},iw),-2)':'if(gt(iw,ih),-2,min(${options.maxSide},ih))'`;
    const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', input, '-an', '-vf', `fps=${options.framesPerSecond},${scale}`, '-frames:v', String(options.maxFrames), '-q:v', '3', join(dir, 'frame-%03d.jpg')];
    await new Promise<void>((resolve, reject) => {
      execFile(ffmpeg.path, args, { timeout: options.timeoutMs, maxBuffer: 1024 * 1024 }, (error) => (error ? reject(error) : resolve()));
    }).catch(() => {
      throw new VideoError('unreadable', 'The video cannot be decoded.');
    });
    const names = (await readdir(dir)).filter((n) => n.startsWith('frame-')).sort();
    if (names.length === 0) throw new VideoError('unreadable', 'The video has no frames.');
    return Promise.all(names.map((n) => readFile(join(dir, n))));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
