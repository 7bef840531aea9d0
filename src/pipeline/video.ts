import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';

export type VideoErrorCode = 'unsupported_format' | 'too_large' | 'too_long' | 'unreadable';

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
  /** The ffmpeg binary: a name looked up on PATH, or a path. */
  ffmpegPath: string;
  maxBytes: number;
  /** Longest video taken, by its container's duration; ffmpeg reads no further than this in any case. */
  maxSeconds: number;
  /** Largest frame the decoder accepts (width times height). */
  maxFramePixels: number;
  /** ffmpeg's CPU time and address space, enforced by the kernel (prlimit). */
  maxCpuSeconds: number;
  maxMemoryMb: number;
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

/** Each sniffed kind is read by its own demuxer only: ffmpeg never guesses the format. */
const DEMUXER = { mp4: 'mov', webm: 'matroska' } as const;
const ALLOWED_DEMUXERS = 'mov,mp4,m4a,3gp,3g2,mj2,matroska,webm';
/** The decoders of what phones and browsers record: H.264, VP8, VP9, AV1 (dav1d). Audio is never decoded. */
const ALLOWED_DECODERS = 'h264,vp8,vp9,libdav1d';
/** The decoder's words when a frame is larger than -max_pixels (libavutil's av_image_check_size2). */
const FRAME_TOO_LARGE = 'exceeds specified max pixel count';
/** The container's duration as ffmpeg's input summary states it; a metadata value cannot start a line so. */
const DURATION = /^ {2}Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?),/m;

/** The absolute path of `command`: itself when it holds a slash, else the first executable of that name on PATH. */
export function executablePath(command: string, path = process.env.PATH ?? ''): string {
  const candidates = command.includes('/') ? [command] : path.split(delimiter).filter(isAbsolute).map((dir) => join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: the next one
    }
  }
  throw new Error(`${command} is not ${command.includes('/') ? 'an executable file' : 'on PATH'}`);
}

/**
 * Runs ffmpeg with an empty environment (no key of this process reaches it), in `cwd`, under the
 * kernel's CPU-time and address-space limits (prlimit, from util-linux) and a wall-clock timeout.
 */
function runFfmpeg(args: string[], options: FrameOptions, cwd: string): Promise<{ failed: boolean; stdout: string; stderr: string }> {
  const limits = [`--cpu=${options.maxCpuSeconds}`, `--as=${options.maxMemoryMb * 1024 * 1024}`];
  return new Promise((resolve) => {
    execFile(
      executablePath('prlimit'),
      [...limits, '--', executablePath(options.ffmpegPath), ...args],
      { env: {}, cwd, timeout: options.timeoutMs, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => resolve({ failed: error !== null, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

/** The first line of `ffmpeg -version` and the binary's path, run as videos are; throws when it cannot run. */
export async function ffmpegVersion(options: FrameOptions): Promise<string> {
  const run = await runFfmpeg(['-version'], options, tmpdir());
  if (run.failed) throw new Error(`${executablePath(options.ffmpegPath)} -version failed: ${run.stderr.trim()}`);
  return `${run.stdout.split('\n', 1)[0]} (${executablePath(options.ffmpegPath)})`;
}

/**
 * Samples frames from a video with ffmpeg: `framesPerSecond` frames a second, at most `maxFrames`,
 * as JPEGs. Only the sniffed container's demuxer, the video decoders of ALLOWED_DECODERS and local
 * file access are allowed; frames over `maxFramePixels`, or a container stating more than
 * `maxSeconds`, are refused. The video goes through a private temporary folder (MP4's index may sit
 * at the end of the file, so ffmpeg needs to seek), removed afterwards.
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
    const { failed, stderr: log } = await runFfmpeg(
      [
        ...['-hide_banner', '-loglevel', 'info', '-nostats', '-nostdin'],
        ...['-protocol_whitelist', 'file', '-format_whitelist', ALLOWED_DEMUXERS, '-codec_whitelist', ALLOWED_DECODERS],
        ...['-threads', '1', '-max_pixels', String(options.maxFramePixels), '-t', String(options.maxSeconds)],
        ...['-f', DEMUXER[format], '-i', input],
        ...['-an', '-sn', '-dn', '-vf', `fps=${options.framesPerSecond},${scale}`, '-frames:v', String(options.maxFrames), '-q:v', '3', join(dir, 'frame-%03d.jpg')],
      ],
      options,
      dir,
    );
    const duration = DURATION.exec(log);
    const seconds = duration ? Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]) : 0;
    if (seconds > options.maxSeconds) throw new VideoError('too_long', `The video lasts ${seconds} s; the limit is ${options.maxSeconds} s.`);
    if (log.includes(FRAME_TOO_LARGE)) throw new VideoError('too_large', `The video's frames are larger than ${options.maxFramePixels} pixels.`);
    if (failed) throw new VideoError('unreadable', 'The video cannot be decoded: an MP4, MOV or WebM of H.264, VP8, VP9 or AV1 is needed.');
    const names = (await readdir(dir)).filter((n) => n.startsWith('frame-')).sort();
    if (names.length === 0) throw new VideoError('unreadable', 'The video has no frames.');
    return Promise.all(names.map((n) => readFile(join(dir, n))));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
