import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { addressInUse, UsageError } from './errors.js';
import { parseOptions } from './parse.js';
import { logLevelOption, processLogger } from './process-log.js';

/**
 * Runs a long-lived server from a config file until SIGINT or SIGTERM, then closes it cleanly.
 * Prints one line `ready <json>` on stdout once it serves, so scripts (and `umbra up`) can wait for
 * it; everything else it says goes to stderr as JSON lines (`--log-level debug|info|warn|error`).
 * When one of its ports is in use it exits with code 3 (EXIT_ADDRESS_IN_USE) and says which.
 */
export interface Served {
  readonly ready: Record<string, unknown>;
  close(): Promise<void>;
}

export async function serveFromConfig(
  command: string,
  args: readonly string[],
  start: (configText: string, logger: Logger) => Promise<Served>,
): Promise<number> {
  const options = parseOptions(command, args, { config: { type: 'string' }, 'log-level': { type: 'string' } });
  const level = logLevelOption(options['log-level']);
  const { config } = options;
  if (config === undefined) throw new UsageError(`${command}: --config FILE is required`);
  let text: string;
  try {
    text = readFileSync(config, 'utf8');
  } catch (error) {
    throw new UsageError(`${command}: cannot read ${config}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const logger = processLogger(command, level);
  const own = logger.child({ component: 'process' });
  const crashed = (error: unknown): void => {
    own.error({ stack: error instanceof Error ? error.stack : undefined }, `crashed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  };
  process.on('uncaughtException', crashed);
  process.on('unhandledRejection', crashed);
  // A taken port is its own exit code (3): `umbra up` then moves the node to fresh ports.
  const served = await start(text, logger).catch((error: unknown) => {
    throw addressInUse(command, error) ?? error;
  });
  process.stdout.write(`ready ${JSON.stringify(served.ready)}\n`);
  own.info('ready');
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  own.info({ signal }, 'stopping');
  await served.close();
  own.info('stopped');
  return 0;
}
