import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, fchmodSync, mkdirSync, openSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EXIT_ADDRESS_IN_USE } from '../cli/errors.js';
import { PortInUseError, TestnetError } from './errors.js';

/**
 * Child processes of a local network: each runs `umbra <role> --config FILE`, prints one line
 * `ready {json}` on stdout when it serves, writes JSON log lines on stderr, and stops on SIGTERM;
 * one that exits with code 3 before it is ready found a port of its own in use (PortInUseError).
 * Its log lines go to `<dir>/logs/<name>.log` (mode 0600), appended across restarts; anything else
 * it prints (a usage error, a warning from Node) is wrapped into a JSON line there too.
 */
export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly ready: Record<string, unknown>;
}

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

export function startChild(name: string, role: string, configPath: string, logDir: string, timeoutMs = 90_000): Promise<Child> {
  const log = openLog(logDir, name);
  const child = spawn(process.execPath, [MAIN, role, '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const write = (line: string, stream: 'stdout' | 'stderr'): void => {
    if (!log.writableEnded) log.write(asLogLine(line, role, name, stream));
  };
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => write(line, 'stderr'));
  child.once('close', () => log.end());
  return new Promise<Child>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new TestnetError(`${name} did not start within ${timeoutMs} ms (see ${join(logDir, `${name}.log`)})`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      if (!line.startsWith('ready ')) return write(line, 'stdout');
      clearTimeout(timer);
      resolve({ name, process: child, ready: JSON.parse(line.slice(6)) as Record<string, unknown> });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const see = `see ${join(logDir, `${name}.log`)}`;
      reject(code === EXIT_ADDRESS_IN_USE
        ? new PortInUseError(name, `${name} could not listen: a port of its own is in use (${see})`)
        : new TestnetError(`${name} exited (${signal ?? code}) before it was ready (${see})`));
    });
  });
}

function openLog(logDir: string, name: string): WriteStream {
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  const path = join(logDir, `${name}.log`);
  const fd = openSync(path, 'a', 0o600);
  fchmodSync(fd, 0o600); // also a file made by an older version
  const stream = createWriteStream(path, { fd });
  stream.on('error', () => undefined); // a full disk must not stop the network
  return stream;
}

/** A JSON log line as it is; anything else as the message of one, at level error. */
function asLogLine(line: string, role: string, name: string, stream: 'stdout' | 'stderr'): string {
  if (line.startsWith('{')) {
    try {
      if (typeof JSON.parse(line) === 'object') return `${line}\n`;
    } catch {
      // not JSON after all
    }
  }
  return `${JSON.stringify({ level: 'error', time: new Date().toISOString(), role, node: name, component: stream, msg: line })}\n`;
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
