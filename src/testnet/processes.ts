import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TestnetError } from './errors.js';

/**
 * Child processes of a local network: each runs `umbra <role> --config FILE`, prints one line
 * `ready {json}` when it serves, logs to `<dir>/logs/<name>.log`, and stops on SIGTERM.
 */
export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly ready: Record<string, unknown>;
}

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

export function startChild(name: string, role: string, configPath: string, logDir: string, timeoutMs = 90_000): Promise<Child> {
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(process.execPath, [MAIN, role, '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr?.pipe(log);
  return new Promise<Child>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new TestnetError(`${name} did not start within ${timeoutMs} ms (see ${join(logDir, `${name}.log`)})`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      log.write(`${line}\n`);
      if (!line.startsWith('ready ')) return;
      clearTimeout(timer);
      resolve({ name, process: child, ready: JSON.parse(line.slice(6)) as Record<string, unknown> });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new TestnetError(`${name} exited (${signal ?? code}) before it was ready (see ${join(logDir, `${name}.log`)})`));
    });
  });
}

/** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
export function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
