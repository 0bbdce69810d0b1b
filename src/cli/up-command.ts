import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_PASSPHRASE, exchange, prepareUsers } from '../testnet/demo.js';
import { describeSupervision } from '../testnet/supervisor.js';
import { DEFAULT_TESTNET_EPOCH_MS, up } from '../testnet/up.js';
import { startWebAgents } from '../testnet/web-agents.js';
import { UsageError } from './errors.js';
import { parseOptions } from './parse.js';

/**
 * --dir: a network directory `umbra up` made (it holds plan.json), an empty one, or a new one. --fresh
 * (new keys, ports and users; a kept directory reuses them, ports included) removes only such a
 * directory: `--fresh --dir` naming any other never deletes it.
 */
function prepareDir(dir: string, fresh: boolean): void {
  const code = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? String(error);
  let entries: string[] | undefined;
  try {
    if (!statSync(dir).isDirectory()) throw new UsageError(`up: --dir ${dir} is not a directory`);
    entries = readdirSync(dir);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if (code(error) !== 'ENOENT') throw new UsageError(`up: cannot use --dir ${dir} (${code(error)})`);
  }
  if (entries !== undefined && entries.length > 0 && !entries.includes('plan.json')) {
    throw new UsageError(`up: ${dir} is not a network directory of umbra up (it holds no plan.json): name a new or empty directory`);
  }
  if (fresh && entries !== undefined) rmSync(dir, { recursive: true, force: true });
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new UsageError(`up: cannot make --dir ${dir} (${code(error)})`);
  }
}

/**
 * `umbra up [--dir D] [--epoch-ms N] [--authorities N] [--fresh] [--fast] [--demo] [--web]`: a whole network on loopback until Ctrl-C
 * (docs/network.md). Prints each node as it starts, then one line `ready` when traffic can flow.
 * The demo users Alice and Bob (each the other's contact) exist in every run; with --demo, Alice
 * mails Bob across it, the result is printed, and everything stops. With --web (after the demo
 * mail, if any: `npm start`), the demo users' agents run here with their web clients and mail
 * bridges until Ctrl-C; the exit code is then the demo mail's (0 when it arrived and was
 * acknowledged). A node that dies is reported
 * and restarted with backoff; one that keeps dying stops the whole network with exit code 1.
 */
export async function upCommand(args: readonly string[]): Promise<number> {
  const values = parseOptions('up', args, { dir: { type: 'string' }, 'epoch-ms': { type: 'string' }, authorities: { type: 'string' }, demo: { type: 'boolean' }, fresh: { type: 'boolean' }, web: { type: 'boolean' }, fast: { type: 'boolean' } });
  const epochMs = values['epoch-ms'] === undefined ? DEFAULT_TESTNET_EPOCH_MS : Number(values['epoch-ms']);
  if (!Number.isInteger(epochMs) || epochMs < 1000) throw new UsageError(`up: --epoch-ms must be a whole number of at least 1000`);
  const authorities = values.authorities === undefined ? undefined : Number(values.authorities);
  if (authorities !== undefined && (!Number.isInteger(authorities) || authorities < 1 || authorities > 16)) {
    throw new UsageError(`up: --authorities must be a whole number from 1 to 16`);
  }
  const dir = values.dir ?? join('.umbra', 'testnet');
  prepareDir(dir, values.fresh === true);
  let gaveUp: (() => void) | undefined;
  const brokenNode = new Promise<void>((resolve) => (gaveUp = resolve));
  const log = (line: string): void => void process.stdout.write(`  ${line}\n`);
  const net = await up({
    dir, epochMs, log, parameters: values.fast === true ? 'fast' : 'recommended',
    ...(authorities === undefined ? {} : { authorities }),
    onSupervision: (event) => {
      log(describeSupervision(event));
      if (event.type === 'gave-up') gaveUp?.();
    },
  });
  try {
    await prepareUsers(net);
  } catch (error) {
    await net.stop();
    throw error;
  }
  const users = net.file.users.map((user) => `  user ${user.name}: umbra client --dir ${user.dir} (passphrase '${DEMO_PASSPHRASE}')\n`).join('');
  process.stdout.write(`${users}network: ${join(net.dir, 'network.json')}\nnetwork view: ${net.viewUrl}\nready\n`);
  let demoCode = 0;
  if (values.demo === true) {
    let code = 1;
    try {
      const result = await exchange(net, (line) => process.stdout.write(`${line}\n`));
      process.stdout.write(result.delivered && result.acknowledged
        ? `the mail arrived and was acknowledged in ${result.seconds.toFixed(1)} s\n`
        : `the mail did not make it through in time (see ${join(net.dir, 'logs')})\n`);
      code = result.delivered && result.acknowledged ? 0 : 1;
    } finally {
      if (values.web !== true) await net.stop();
    }
    if (values.web !== true) return code;
    demoCode = code;
  }
  // --web: the demo users' agents with their web clients, until Ctrl-C (docs/web.md).
  const web = values.web === true ? await startWebAgents(net).catch(async (error: unknown) => {
    await net.stop();
    throw error;
  }) : undefined;
  for (const agent of web?.agents ?? []) {
    process.stdout.write(`web client of ${agent.name}: ${agent.url} (token ${agent.token})\n`);
    process.stdout.write(`mail bridge of ${agent.name}: IMAP 127.0.0.1:${agent.imapPort}, SMTP 127.0.0.1:${agent.smtpPort}, STARTTLS, user ${agent.username}, password ${agent.password}\n`);
  }
  if (web !== undefined) process.stdout.write('running until Ctrl-C\n');
  const stopped = await Promise.race([
    new Promise<'asked'>((resolve) => {
      process.once('SIGINT', () => resolve('asked'));
      process.once('SIGTERM', () => resolve('asked'));
    }),
    brokenNode.then(() => 'broken' as const),
  ]);
  process.stdout.write(stopped === 'asked' ? 'stopping\n' : 'stopping: a node keeps dying (see above)\n');
  // Ctrl-C reaches the nodes too (one process group): their exits while the agents close are no failures.
  net.stopRestarts();
  await web?.close();
  await net.stop();
  return stopped === 'asked' ? demoCode : 1;
}
