import { readFileSync } from 'node:fs';

/**
 * The package version, read from package.json at run time rather than copied into the build, so
 * it can never disagree with what npm installed. This file runs as dist/src/cli/version.js and
 * package.json sits next to dist/, three directories up from this module's URL.
 */
export function packageVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  const manifest: unknown = JSON.parse(readFileSync(url, 'utf8'));
  const version = (manifest as { version?: unknown } | null)?.version;
  if (typeof version !== 'string') throw new Error(`no version in ${url.pathname}`);
  return version;
}
