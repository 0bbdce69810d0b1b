import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';
import { parseOptions } from './parse.js';

/**
 * Runs a long-lived server from a config file until SIGINT or SIGTERM, then closes it cleanly.
 * Prints one line `ready <json>` once it serves, so scripts (and `umbra up`) can wait for it.
 */
export interface Served {
  readonly ready: Record<string, unknown>;
  close(): Promise<void>;
}

export async function serveFromConfig(
  command: string,
  args: readonly string[],
  start: (configText: string) => Promise<Served>,
): Promise<number> {
  const { config } = parseOptions(command, args, { config: { type: 'string' } });
  if (config === undefined) throw new UsageError(`${command}: --config FILE is required`);
  let text: string;
  try {
    text = readFileSync(config, 'utf8');
  } catch (error) {
    throw new UsageError(`${command}: cannot read ${config}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const served = await start(text);
  process.stdout.write(`ready ${JSON.stringify(served.ready)}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await served.close();
  return 0;
}
