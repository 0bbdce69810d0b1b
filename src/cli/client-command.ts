import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ClientError, type ClientErrorCode } from '../client/errors.js';
import { LOCK_FILE } from '../client/lock.js';
import { readApiEndpoint, type ApiEndpoint } from '../client/api/discovery.js';
import { AgentApiError } from './agent-api.js';
import { parse } from './client-options.js';
import { runRemote } from './client-remote.js';
import { EXIT_FAILED, EXIT_USAGE, UsageError } from './errors.js';
import { integer } from './parse.js';

/**
 * `umbra client --dir C <command>`: the user's side (docs/client.md). While an agent runs in the
 * directory (`run`), every command goes through its local API (docs/api.md); otherwise it opens
 * the directory itself. The passphrase comes from UMBRA_PASSPHRASE or --passphrase-file, never
 * from the command line (it would show in `ps`).
 *   init --name N --authority URL --authority-key KEY [--server HOST:PORT] --mirror URL[#KEY] --mirror URL[#KEY] […]   make keys; print the card
 *   card | rotate-card [--grace-days N] | contact add URI | contact list [--json] | api
 *   send --to NAME [--to NAME]… [--cc NAME]… [--bcc NAME]… --subject S (--body B | --body-file F) [--wait] [--timeout-ms N]
 *        (each option also takes a comma list: --to bob,carol)
 *   resend N [--wait] [--timeout-ms N]   failed sent mail #N, again
 *   inbox [--json] | sent [--json] | read N [--sent] [--json] (inbox mail #N; --sent: sent mail #N) | run [--api-port N] [--smtp-port N] [--imap-port N]
 *   bridge [--show-password]   the mail bridge's settings for a mail program
 *   relay set --host H [--port N] [--tls starttls|tls|none] [--user U --relay-password-file F] --from ADDRESS | relay show | relay clear
 */
/** Refusals that are the caller's mistake, not the network's: exit code 2, like a bad option. */
const USER_MISTAKES: ReadonlySet<string> = new Set<ClientErrorCode | string>([
  'bad-passphrase', 'not-initialized', 'already-initialized', 'locked', 'bad-options', 'bad-card',
  'unknown-contact', 'ambiguous-contact', 'too-large', 'unknown-mail', 'not-failed', 'invalid-request', 'no-relay',
]);

/** How long a command waits for a starting agent's API (its passphrase derivation and first consensus). */
const AGENT_START_WAIT_MS = 60_000;

/**
 * The API of the agent that holds the directory, once it is up; 'free' when the holder let go
 * first (it was a one-off command), undefined when neither happens in time.
 */
async function agentStarting(dir: string): Promise<ApiEndpoint | 'free' | undefined> {
  const lock = join(dir, LOCK_FILE);
  const deadline = Date.now() + AGENT_START_WAIT_MS;
  while (Date.now() < deadline) {
    const endpoint = readApiEndpoint(dir);
    if (endpoint !== undefined) return endpoint;
    if (!existsSync(lock)) return 'free';
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return undefined;
}

export async function clientCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args);
  const dir = values.dir;
  if (dir === undefined) throw new UsageError('client: --dir DIR is required');
  const [command, ...rest] = positionals;
  if (values.sent === true && command !== 'read') throw new UsageError('client: --sent goes with `read N` (sent mail #N)');
  const timeoutMs = integer('timeout-ms', values['timeout-ms'], 1000, 24 * 3600 * 1000, 120_000);
  try {
    const endpoint = command === 'init' ? undefined : readApiEndpoint(dir);
    if (endpoint !== undefined) {
      const code = await runRemote(endpoint, command, rest, { ...values, timeoutMs });
      if (code >= 0) return code;
    }
    try {
      return await (await import('./client-local.js')).runLocal(dir, command, rest, values, timeoutMs);
    } catch (error) {
      // An agent that is still starting holds the lock before its API is up: wait for the API.
      if (!(error instanceof ClientError && error.code === 'locked') || command === 'run' || command === 'init') throw error;
      const started = await agentStarting(dir);
      if (started === undefined) throw error;
      if (started === 'free') return await (await import('./client-local.js')).runLocal(dir, command, rest, values, timeoutMs);
      const code = await runRemote(started, command, rest, { ...values, timeoutMs });
      if (code < 0) throw error;
      return code;
    }
  } catch (error) {
    if (error instanceof ClientError || error instanceof AgentApiError) {
      process.stderr.write(`umbra client: ${error.message}\n`);
      return USER_MISTAKES.has(error.code) ? EXIT_USAGE : EXIT_FAILED;
    }
    throw error;
  }
}
