import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Helmet's headers, fitted to how clients reach the service. Over HTTPS (`server.https`), HSTS and
 * CSP's upgrade-insecure-requests keep browsers on it. Over plain HTTP both must stay off: a browser
 * reaching the service by host name would otherwise ask for every script and style over https, which
 * nothing answers, and /docs would render blank.
 */
export function securityHeaders(https: boolean): RequestHandler {
  return helmet({
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: https ? [] : null } },
    strictTransportSecurity: https,
  });
}
