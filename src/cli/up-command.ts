import { join } from 'node:path';
import { DEFAULT_TESTNET_EPOCH_MS, up } from '../testnet/up.js';
import { UsageError } from './errors.js';
import { parseOptions } from './parse.js';

/**
 * `umbra up [--dir D] [--epoch-ms N]`: a whole network on loopback until Ctrl-C (docs/network.md).
 * Prints each node as it starts, then one line `ready` when traffic can flow.
 */
export async function upCommand(args: readonly string[]): Promise<number> {
  const values = parseOptions('up', args, { dir: { type: 'string' }, 'epoch-ms': { type: 'string' } });
  const epochMs = values['epoch-ms'] === undefined ? DEFAULT_TESTNET_EPOCH_MS : Number(values['epoch-ms']);
  if (!Number.isInteger(epochMs) || epochMs < 1000) throw new UsageError(`up: --epoch-ms must be a whole number of at least 1000`);
  const dir = values.dir ?? join('.umbra', 'testnet');
  const net = await up({ dir, epochMs, log: (line) => process.stdout.write(`  ${line}\n`) });
  process.stdout.write(`network: ${join(net.dir, 'network.json')}\nready\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  process.stdout.write('stopping\n');
  await net.stop();
  return 0;
}
