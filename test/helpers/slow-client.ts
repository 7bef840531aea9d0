import { connect } from 'node:net';

export interface SlowRequest {
  /** Everything the server sent, once it has closed the connection or the test stopped sending. */
  answer: Promise<string>;
  /** Whether the server closed the connection while the client still had bytes to send. */
  readonly cutOff: boolean;
  stop: () => void;
}

/**
 * A client on a raw socket that sends a request's head at once (or, with `slowHead`, byte by byte
 * too) and then its body one byte every `intervalMs`, as a slow or hostile client would.
 */
export function slowRequest(
  port: number,
  request: { path: string; headers: Record<string, string>; body: Buffer | string },
  options: { intervalMs: number; slowHead?: boolean },
): SlowRequest {
  const body = Buffer.from(request.body);
  const head = Buffer.from(
    `POST ${request.path} HTTP/1.1\r\nHost: localhost\r\n${Object.entries({ ...request.headers, 'content-length': String(body.length) })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')}\r\n`,
  );
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let cutOff = false;
  let sent = 0;
  const bytes = Buffer.concat([head, body]);
  if (!options.slowHead) {
    socket.write(head);
    sent = head.length;
  }
  const timer = setInterval(() => {
    if (socket.destroyed) return;
    if (sent >= bytes.length) {
      clearInterval(timer);
      return;
    }
    socket.write(bytes.subarray(sent, sent + 1));
    sent++;
  }, options.intervalMs);
  socket.on('data', (chunk) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const answer = new Promise<string>((resolve) => {
    socket.on('close', () => {
      cutOff = sent < bytes.length;
      clearInterval(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
  return {
    answer,
    get cutOff() {
      return cutOff;
    },
    stop: () => {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

/** The status code and JSON body of a raw HTTP answer. */
export function parseAnswer(raw: string): { status: number; headers: string; body: unknown } {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const text = rest.join('\r\n\r\n');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status, headers: head, body };
}
