import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * How local programs find a running agent's API: `<client dir>/api.json` holds its URL, the
 * agent's PID and the bearer token, readable by the owner only (mode 0600 in the 0700 client
 * directory), written when the API starts and removed when it stops (docs/api.md, "Finding the agent").
 */
export const API_FILE = 'api.json';

export interface ApiEndpoint {
  readonly url: string;
  readonly token: string;
  readonly pid: number;
}

export function writeApiEndpoint(dir: string, endpoint: ApiEndpoint): void {
  const path = join(dir, API_FILE);
  writeFileSync(path, `${JSON.stringify(endpoint)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function removeApiEndpoint(dir: string, pid: number): void {
  if (readApiEndpoint(dir)?.pid === pid) rmSync(join(dir, API_FILE), { force: true });
}

/** The endpoint of a running agent, or undefined (no file, a damaged one, or its process gone). */
export function readApiEndpoint(dir: string): ApiEndpoint | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, API_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  const { url, token, pid } = (parsed ?? {}) as Partial<ApiEndpoint>;
  if (typeof url !== 'string' || !url.startsWith('http://127.0.0.1:') || typeof token !== 'string' || !Number.isSafeInteger(pid)) return undefined;
  if (!alive(pid as number)) return undefined;
  return { url, token, pid: pid as number };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
