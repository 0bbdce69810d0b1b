import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ClientError } from './errors.js';

/** The lock's file name in a client directory. */
export const LOCK_FILE = 'lock';

/**
 * One process at a time owns a client directory: the keystore and the mail store are rewritten
 * after every change, and two writers would undo each other's ratchet steps. The lock is a file
 * created exclusively holding the owner's PID; a lock whose process is gone, or is
 * not Node, is taken over.
 */
export interface DirectoryLock {
  release(): void;
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `pid` may be an umbra agent: where /proc shows process command lines (Linux), a process
 * that is not Node (the PID was reused after a crash or reboot) does not hold the lock.
 */
function mayBeAgent(pid: number): boolean {
  let commandLine: string;
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return true; // no /proc, or not ours to read: assume it may be
  }
  return /node|umbra/i.test(commandLine);
}

/** Takes the lock at `path`, or 'locked' when a live process holds it (this one included). */
export function acquireLock(path: string): DirectoryLock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let owner = NaN;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    } catch {
      // vanished in between: try again
    }
    if (alive(owner) && (owner === process.pid || mayBeAgent(owner))) {
      const self = owner === process.pid ? ' (this one)' : '';
      throw new ClientError('locked', `the client directory is in use by process ${owner}${self}; if no umbra agent runs there, delete ${path}`);
    }
    rmSync(path, { force: true }); // stale: its process is gone
  }
  throw new ClientError('locked', 'the client directory lock could not be taken');
}
