import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The tests run from dist/test/cli; the command is the built dist/src/cli/main.js.
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Runs the built `umbra` command with `args` and returns its exit status and output. */
export function umbra(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
