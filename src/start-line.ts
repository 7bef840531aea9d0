import type { AddressInfo } from 'node:net';
import type { MetricsConfig } from './config';
import type { Keyring } from './config/api-keys';

export interface StartFacts {
  /** Where the service listens (`server.address()`). */
  address: AddressInfo;
  keyring: Keyring;
  /** Whether FACEGATE_ENCRYPTION_KEY seals what is stored. */
  encrypted: boolean;
  metrics: MetricsConfig;
}

/** The URL to type: `localhost` for a server listening on every interface, brackets around IPv6 addresses. */
export function serviceUrl({ address, port }: { address: string; port: number }): string {
  const host = address === '0.0.0.0' || address === '::' ? 'localhost' : address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${port}`;
}

function keysPart({ keyFile, entries }: Keyring): string {
  const admin = entries.some((entry) => entry.role === 'admin') ? 'admin keys from config' : 'no admin key configured';
  if (keyFile) return `API key in ${keyFile} (KEY=$(cat ${keyFile})), ${admin}`;
  return `API keys from config (auth.apiKeys, auth.clients, FACEGATE_API_KEYS; the generated key is off), ${admin}`;
}

function metricsPart(metrics: MetricsConfig, url: string): string {
  const where = metrics.port === null ? `${url}/metrics` : serviceUrl({ address: metrics.host, port: metrics.port }) + '/metrics';
  return `metrics at ${where}${metrics.requireAdminKey ? ' (admin key)' : ''}`;
}

/** The one plain line printed at start-up, beside the JSON log: where to go, which key to use, and whether data is encrypted. */
export function startLine({ address, keyring, encrypted, metrics }: StartFacts): string {
  const url = serviceUrl(address);
  const atRest = encrypted ? 'data encrypted at rest' : 'data NOT encrypted at rest (set FACEGATE_ENCRYPTION_KEY)';
  return `FaceGate listening on ${url}, docs at ${url}/docs; ${keysPart(keyring)}; ${atRest}; ${metricsPart(metrics, url)}`;
}
