import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { type FrameOptions, VideoError, videoFrames } from '../../src/pipeline/video';
import { testPattern } from '../helpers/video';

const options: FrameOptions = loadConfig().video;
const H264 = ['-pix_fmt', 'yuv420p', '-c:v', 'libx264'];
/** One second of a tone, as a second input: phones record sound, and it must not stop the video being read. */
const withSound = (codec: string) => ['-f', 'lavfi', '-t', '2', '-i', 'sine=frequency=440', '-c:a', codec];

async function refusal(video: Buffer, adjusted: Partial<FrameOptions> = {}): Promise<VideoError> {
  const error: unknown = await videoFrames(video, { ...options, ...adjusted }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VideoError);
  return error as VideoError;
}

describe('videoFrames', () => {
  it('reads H.264 in MP4 and VP8 in WebM with their sound tracks, and AV1', async () => {
    const videos = [
      await testPattern({ args: [...withSound('aac'), ...H264] }),
      await testPattern({ args: [...withSound('libopus'), '-c:v', 'libvpx'], extension: 'webm' }),
      await testPattern({ args: ['-c:v', 'libaom-av1', '-cpu-used', '8'], seconds: 1 }),
    ];
    const frames = await Promise.all(videos.map((video) => videoFrames(video, options)));
    expect(frames.map((f) => f.length)).toEqual([4, 4, 2]);
  }, 60_000);

  it('runs ffmpeg with an empty environment, under the configured CPU-time and address-space limits', async () => {
    // A stand-in for ffmpeg that writes what it was given where the first frame goes.
    const dir = mkdtempSync(join(tmpdir(), 'facegate-ffmpeg-env-'));
    const script = join(dir, 'ffmpeg');
    writeFileSync(script, '#!/bin/sh\nfor last; do :; done\n{ export -p; ulimit -t; ulimit -v; } > "${last%/*}/frame-001.jpg"\n');
    chmodSync(script, 0o755);
    process.env.FACEGATE_API_KEYS = 'key-that-must-not-reach-ffmpeg';
    try {
      const [dump] = await videoFrames(await testPattern({ args: H264, seconds: 1 }), { ...options, ffmpegPath: script, maxCpuSeconds: 7, maxMemoryMb: 600 });
      const lines = dump.toString().trim().split('\n');
      // dash exports PWD itself; nothing else may be there.
      expect(lines.filter((line) => !line.startsWith('export PWD='))).toEqual(['7', String(600 * 1024)]);
    } finally {
      delete process.env.FACEGATE_API_KEYS;
    }
  }, 60_000);

  it('refuses other containers: AVI, an ffconcat list, an HLS playlist', async () => {
    const avi = await testPattern({ args: ['-c:v', 'mpeg4'], extension: 'avi' });
    expect((await refusal(avi)).code).toBe('unsupported_format');
    for (const text of ['ffconcat version 1.0\nfile /etc/passwd\n', '#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n']) {
      expect((await refusal(Buffer.from(text))).code).toBe('unsupported_format');
    }
  }, 60_000);

  it('refuses video codecs outside H.264, VP8, VP9 and AV1, even in an MP4', async () => {
    for (const codec of ['mpeg4', 'libx265', 'mjpeg']) {
      const video = await testPattern({ args: ['-pix_fmt', 'yuvj420p', '-c:v', codec] });
      expect([codec, (await refusal(video)).code]).toEqual([codec, 'unreadable']);
    }
  }, 60_000);

  it('refuses frames over maxFramePixels and containers stating more than maxSeconds, each with its own code', async () => {
    const video = await testPattern({ args: H264, width: 640, height: 480, seconds: 3 });
    expect(await videoFrames(video, { ...options, maxFramePixels: 640 * 480, maxSeconds: 3 })).toHaveLength(6);
    const tooLarge = await refusal(video, { maxFramePixels: 640 * 480 - 1 });
    expect([tooLarge.code, tooLarge.message]).toEqual(['too_large', `The video's frames are larger than ${640 * 480 - 1} pixels.`]);
    const tooLong = await refusal(video, { maxSeconds: 2.5 });
    expect([tooLong.code, tooLong.message]).toEqual(['too_long', 'The video lasts 3 s; the limit is 2.5 s.']);
  }, 60_000);
});
