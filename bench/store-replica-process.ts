/**
 * One replica of `npm run bench:store`'s replica rows, as a process of its own: opens the store on
 * argv's database, says "ready", waits for "go" on stdin, then runs its share of enrollments with
 * `--in-flight` of them at a time, spread over `--clients` clients, through the service's
 * enrollment path (feed catch-up and duplicate search under the client's lock), and prints its
 * figures as JSON.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config';
import { enrollmentPath, type EnrollFigures, openBenchStore } from './store-enroll';
import { unitVector } from './synthetic-templates';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    key: { type: 'string' },
    replica: { type: 'string' },
    enrollments: { type: 'string' },
    'in-flight': { type: 'string' },
    clients: { type: 'string' },
  },
});

async function main(): Promise<void> {
  const [replica, enrollments, inFlight, clients] = ['replica', 'enrollments', 'in-flight', 'clients'].map((name) => Number(values[name as keyof typeof values]));
  const config = loadConfig();
  const store = await openBenchStore(values.url!, values.key!, inFlight + 1);
  const path = enrollmentPath(store, config.recognition.duplicateIndex);
  await path.start();
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));

  const latency: number[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    for (let i = next++; i < enrollments; i = next++) {
      const t = performance.now();
      const row = replica * enrollments + i;
      if (!(await path.enroll(`client-${row % clients}`, `user-${row}`, unitVector(3, row), config.recognition.duplicateThreshold))) {
        throw new Error(`user-${row} was refused as a duplicate of a random template`);
      }
      latency.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const figures: EnrollFigures = { enrollments, seconds: (performance.now() - started) / 1000, latency };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  await store.close();
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exitCode = 1;
});
