#!/usr/bin/env node
import { authorityCommand } from './authority-command.js';
import { clientCommand } from './client-command.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js';
import { HELP } from './help.js';
import { keygenCommand } from './keygen.js';
import { nodeCommand } from './node-command.js';
import { simAttackCommand } from './sim-attack.js';
import { simCommand } from './sim-command.js';
import { sphinxWalkCommand } from './sphinx-walk/command.js';
import { upCommand } from './up-command.js';
import { packageVersion } from './version.js';
import { TestnetError } from '../testnet/errors.js';

/** The `umbra` command: picks the subcommand; each returns its exit code. */
function run(args: readonly string[]): number | Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return EXIT_OK;
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(`umbra ${packageVersion()}\n`);
      return EXIT_OK;
    case 'sphinx-walk':
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(HELP);
        return EXIT_OK;
      }
      return sphinxWalkCommand(rest);
    case 'keygen':
      return keygenCommand(rest);
    case 'authority':
      return authorityCommand(rest);
    case 'mix':
    case 'gateway':
    case 'provider':
      return nodeCommand(command, rest);
    case 'up':
      return upCommand(rest);
    case 'client':
      return clientCommand(rest);
    case 'sim':
      return rest[0] === 'attack' ? simAttackCommand(rest.slice(1)) : simCommand(rest);
    default:
      throw new UsageError(command.startsWith('-') ? `unknown option '${command}'` : `unknown command '${command}'`);
  }
}

function fail(error: unknown): void {
  if (error instanceof UsageError) {
    process.stderr.write(`umbra: ${error.message} (see 'umbra help')\n`);
    process.exitCode = EXIT_USAGE;
  } else if (error instanceof TestnetError) {
    process.stderr.write(`umbra: ${error.message}\n`);
    process.exitCode = EXIT_FAILED;
  } else {
    // Not the user's fault: say what broke in one line; UMBRA_DEBUG=1 shows the stack.
    const detail = process.env.UMBRA_DEBUG ? (error as Error).stack : error instanceof Error ? error.message : String(error);
    process.stderr.write(`umbra: internal error: ${detail}\n`);
    process.exitCode = EXIT_FAILED;
  }
}

try {
  const result = run(process.argv.slice(2));
  if (typeof result === 'number') process.exitCode = result;
  else result.then((code) => (process.exitCode = code), fail);
} catch (error) {
  fail(error);
}
