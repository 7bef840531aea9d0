import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Helmet's headers, fitted to how clients reach the service. Over HTTPS (`server.https`), HSTS and
 * CSP's upgrade-insecure-requests keep browsers on it. Over plain HTTP both must stay off: a browser
 * reaching the service by host name would otherwise ask for every script and style over https, which
 * nothing answers, and /docs would render blank. Cross-Origin-Opener-Policy goes with them: browsers
 * ignore it on an untrustworthy origin and log an error on every page.
 */
export function securityHeaders(https: boolean): RequestHandler {
  return helmet({
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: https ? [] : null } },
    strictTransportSecurity: https,
    crossOriginOpenerPolicy: https,
  });
}

/**
 * The try page's own policy, replacing the default one on its files: its scripts and styles from this
 * origin only (none inline), the photo it draws from a blob: URL (the camera's stream goes to the
 * video element as an object, which CSP does not govern), calls to this origin only, and the camera
 * for this origin alone.
 */
export function tryPageHeaders(https: boolean): RequestHandler {
  const policy = helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ['blob:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
      ...(https ? { upgradeInsecureRequests: [] } : {}),
    },
  });
  return (req, res, next) => {
    res.setHeader('Permissions-Policy', 'camera=(self), microphone=(), geolocation=()');
    policy(req, res, next);
  };
}
