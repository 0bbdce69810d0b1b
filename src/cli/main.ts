#!/usr/bin/env node
import { AddressInUseError, EXIT_ADDRESS_IN_USE, EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js';
import { HELP } from './help.js';
import { packageVersion } from './version.js';
import { TestnetError } from '../testnet/errors.js';

/**
 * The `umbra` command: picks the subcommand; each returns its exit code. A subcommand's modules are
 * loaded only when it runs, so a quick command (a mistake, `help`, `client status`) does not pay
 * for loading every node, the simulator and the mail bridge.
 */
const SUBCOMMANDS = new Set(['sphinx-walk', 'keygen', 'authority', 'mix', 'gateway', 'provider', 'up', 'client', 'sim', 'consensus']);

/** `--help` or `-h` among a subcommand's arguments (before a `--`): the help, whatever else is given. */
function asksForHelp(rest: readonly string[]): boolean {
  const end = rest.indexOf('--');
  const options = end === -1 ? rest : rest.slice(0, end);
  return options.includes('--help') || options.includes('-h');
}

async function run(args: readonly string[]): Promise<number> {
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
  }
  if (SUBCOMMANDS.has(command) && asksForHelp(rest)) {
    process.stdout.write(HELP);
    return EXIT_OK;
  }
  switch (command) {
    case 'sphinx-walk':
      return (await import('./sphinx-walk/command.js')).sphinxWalkCommand(rest);
    case 'keygen':
      return (await import('./keygen.js')).keygenCommand(rest);
    case 'authority':
      return (await import('./authority-command.js')).authorityCommand(rest);
    case 'mix':
    case 'gateway':
    case 'provider':
      return (await import('./node-command.js')).nodeCommand(command, rest);
    case 'up':
      return (await import('./up-command.js')).upCommand(rest);
    case 'consensus':
      return (await import('./consensus-command.js')).consensusCommand(rest);
    case 'client':
      return (await import('./client-command.js')).clientCommand(rest);
    case 'sim':
      return rest[0] === 'attack' ? (await import('./sim-attack.js')).simAttackCommand(rest.slice(1)) : (await import('./sim-command.js')).simCommand(rest);
    default:
      throw new UsageError(command.startsWith('-') ? `unknown option '${command}'` : `unknown command '${command}'`);
  }
}

function fail(error: unknown): void {
  if (error instanceof UsageError) {
    process.stderr.write(`umbra: ${error.message} (see 'umbra help')\n`);
    process.exitCode = EXIT_USAGE;
  } else if (error instanceof AddressInUseError) {
    process.stderr.write(`umbra: ${error.message}\n`);
    process.exitCode = EXIT_ADDRESS_IN_USE;
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

run(process.argv.slice(2)).then((code) => (process.exitCode = code), fail);
