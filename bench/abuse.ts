import { spawn } from 'node:child_process';
import sharp from 'sharp';
import { loadConfig } from '../src/config';
import { slowRequest, type SlowRequest } from '../test/helpers/slow-client';

/**
 * One hostile client: `slowBodies` connections each sending a FIQA body a byte every 200 ms (and
 * starting again when the service cuts one off), and `pixelRequests` connections each sending,
 * one after another, FIQA requests carrying as many square PNGs at the per-image pixel cap
 * (5477x5477 by default, flat colour, ~100 KB each) as the request pixel budget lets through. `stop` ends it and returns
 * the answers it got, by status (0: no answer, the connection was cut).
 */
async function abuse(url: string, key: string, options: { slowBodies: number; pixelRequests: number }) {
  const { limits } = loadConfig();
  const side = Math.floor(Math.sqrt(limits.maxImagePixels));
  const png = (await sharp({ create: { width: side, height: side, channels: 3, background: '#6a7b8c' } }).png().toBuffer()).toString('base64');
  const images = Math.max(1, Math.min(limits.maxImagesPerRequest, Math.floor(limits.maxPixelsPerRequest / (side * side))));
  const body = JSON.stringify({ images: Array(images).fill(png) });
  const port = Number(new URL(url).port);
  const answers: Record<number, number> = {};
  const count = (status: number) => (answers[status] = (answers[status] ?? 0) + 1);
  let running = true;

  const slow = new Set<SlowRequest>();
  const slowLoop = async () => {
    while (running) {
      const client = slowRequest(port, { path: '/NFFS-FIQA/v1/predict', headers: { authorization: key, 'content-type': 'application/json' }, body }, { intervalMs: 200 });
      slow.add(client);
      const answer = await client.answer;
      slow.delete(client);
      if (running) count(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0));
    }
  };
  const pixelLoop = async () => {
    while (running) {
      const status = await fetch(`${url}/NFFS-FIQA/v1/predict`, { method: 'POST', headers: { authorization: key, 'content-type': 'application/json' }, body }).then(
        async (res) => {
          await res.arrayBuffer();
          return res.status;
        },
        () => 0,
      );
      count(status);
    }
  };
  const loops = [...Array(options.slowBodies)].map(slowLoop).concat([...Array(options.pixelRequests)].map(pixelLoop));
  return {
    description: `${options.slowBodies} connections sending a FIQA body a byte every 200 ms, ${options.pixelRequests} sending requests of ${images} ${side}x${side} PNGs (${((images * side * side) / 1e6).toFixed(1)} MP)`,
    stop: async () => {
      running = false;
      for (const client of slow) client.stop();
      await Promise.all(loops);
      return answers;
    },
  };
}

/**
 * Runs the abusive client in a process of its own at nice 10, standing in for a client on another
 * machine: its loops neither share the event loop autocannon measures with, nor take the CPU the
 * service needs more than a remote client would.
 */
export async function startAbuse(url: string, key: string, options: { slowBodies: number; pixelRequests: number }) {
  const child = spawn('nice', ['-n', '10', process.execPath, '--import', 'tsx', __filename, url, key, String(options.slowBodies), String(options.pixelRequests)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (text: string) => lines.push(...text.split('\n').filter(Boolean)));
  while (lines.length === 0) {
    if (child.exitCode !== null) throw new Error(`the abusive client exited with code ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const description = lines[0];
  return {
    description,
    stop: async (): Promise<Record<number, number>> => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await exited;
      return JSON.parse(lines[lines.length - 1]) as Record<number, number>;
    },
  };
}

// As the child process: abuse until stdin closes, then print the answers.
if (require.main === module) {
  const [url, key, slowBodies, pixelRequests] = process.argv.slice(2);
  void abuse(url, key, { slowBodies: Number(slowBodies), pixelRequests: Number(pixelRequests) }).then((running) => {
    console.log(running.description);
    process.stdin.resume().on('end', () => {
      void running.stop().then((answers) => {
        console.log(JSON.stringify(answers));
        process.exit(0);
      });
    });
  });
}
