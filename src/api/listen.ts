import type { Express } from 'express';
import { createServer, type Server } from 'node:http';

/** Node checks its request and headers deadlines only this often; its default, 30 s, let a 30 s deadline run to 60 s. */
const CHECK_DIVISIONS = 10;

/**
 * An HTTP server for `app` that cuts off a request whose headers and body have not all arrived
 * within `requestTimeoutMs` (Node answers 408 and closes the connection), checking every tenth of
 * that, so the cut comes at most 10% late. The body deadline of the analysis routes
 * (`limits.bodyTimeoutMs`, shorter) usually comes first, answered in the family's shape.
 */
export function listen(app: Express, options: { host: string; port: number; requestTimeoutMs: number }, onListening: () => void): Server {
  const server = createServer(
    {
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: options.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.round(options.requestTimeoutMs / CHECK_DIVISIONS)),
    },
    app,
  );
  return server.listen(options.port, options.host, onListening);
}
