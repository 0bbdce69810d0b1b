import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fromBase64Url } from '../codec/bytes.js';
import {
  ClientError, contactView, DEFAULT_GRACE_DAYS, initClient, MAX_GRACE_DAYS, mailSummary, messageView, openClient, readApiEndpoint, removeApiEndpoint, startApiServer, startBridge, startClient,
  writeApiEndpoint, LOCK_FILE, type ApiEndpoint, type Client, type ClientErrorCode,
} from '../client/index.js';
import { AgentApiError } from './agent-api.js';
import { addedText, contactsText, describeEvent, inboxText, mailNumberArgument, mailToSend, messageText, print, queuedText, readTextFile, sentText } from './client-print.js';
import { bridgeText, localBridgeView } from './client-bridge.js';
import { relayCommand } from './client-relay.js';
import { runRemote } from './client-remote.js';
import { EXIT_FAILED, EXIT_USAGE, UsageError } from './errors.js';
import { integer } from './parse.js';

/**
 * `umbra client --dir C <command>`: the user's side (docs/client.md). While an agent runs in the
 * directory (`run`), every command goes through its local API (docs/api.md); otherwise it opens
 * the directory itself. The passphrase comes from UMBRA_PASSPHRASE or --passphrase-file, never
 * from the command line (it would show in `ps`).
 *   init --name N --authority URL --authority-key KEY [--server HOST:PORT] [--mirror URL]…   make keys; print the card
 *   card | rotate-card [--grace-days N] | contact add URI | contact list [--json] | api
 *   send --to NAME [--to NAME]… [--cc NAME]… [--bcc NAME]… --subject S (--body B | --body-file F) [--wait] [--timeout-ms N]
 *        (each option also takes a comma list: --to bob,carol)
 *   resend N [--wait] [--timeout-ms N]   failed sent mail #N, again
 *   inbox [--json] | sent [--json] | read N [--sent] [--json] (inbox mail #N; --sent: sent mail #N) | run [--api-port N] [--smtp-port N] [--imap-port N]
 *   bridge [--show-password]   the mail bridge's settings for a mail program
 *   relay set --host H [--port N] [--tls starttls|tls|none] [--user U --relay-password-file F] --from ADDRESS | relay show | relay clear
 */
const OPTIONS = {
  dir: { type: 'string' },
  'passphrase-file': { type: 'string' },
  name: { type: 'string' },
  authority: { type: 'string' },
  'authority-key': { type: 'string' },
  server: { type: 'string', multiple: true },
  mirror: { type: 'string', multiple: true },
  to: { type: 'string', multiple: true },
  cc: { type: 'string', multiple: true },
  bcc: { type: 'string', multiple: true },
  subject: { type: 'string' },
  body: { type: 'string' },
  'body-file': { type: 'string' },
  wait: { type: 'boolean' },
  'no-wait': { type: 'boolean' },
  'timeout-ms': { type: 'string' },
  'api-port': { type: 'string' },
  'smtp-port': { type: 'string' },
  'imap-port': { type: 'string' },
  'show-password': { type: 'boolean' },
  json: { type: 'boolean' },
  sent: { type: 'boolean' },
  'grace-days': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  tls: { type: 'string' },
  user: { type: 'string' },
  from: { type: 'string' },
  'relay-password-file': { type: 'string' },
} as const;

type Values = ReturnType<typeof parse>['values'];

/** Refusals that are the caller's mistake, not the network's: exit code 2, like a bad option. */
const USER_MISTAKES: ReadonlySet<string> = new Set<ClientErrorCode | string>([
  'bad-passphrase', 'not-initialized', 'already-initialized', 'locked', 'bad-options', 'bad-card',
  'unknown-contact', 'ambiguous-contact', 'too-large', 'unknown-mail', 'not-failed', 'invalid-request', 'no-relay',
]);

function parse(args: readonly string[]) {
  try {
    return parseArgs({ args: [...args], options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(`client: ${(error as Error).message.split('\n')[0]}`);
  }
}

function passphrase(values: Values): string {
  const file = values['passphrase-file'];
  const text = file !== undefined ? readTextFile('passphrase-file', file).replace(/\r?\n$/, '') : process.env.UMBRA_PASSPHRASE;
  if (text === undefined || text.length === 0) throw new UsageError('client: set UMBRA_PASSPHRASE or pass --passphrase-file FILE');
  return text;
}

async function withClient<T>(dir: string, values: Values, use: (client: Client) => T | Promise<T>): Promise<T> {
  const client = await openClient(dir, passphrase(values));
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/**
 * `send` (or, with `resendNumber`, `resend N`) without a running agent: one is started for the
 * mail, until its packets left (or, with --wait, until the ACK).
 */
async function send(dir: string, values: Values, timeoutMs: number, resendNumber?: number): Promise<number> {
  const mail = resendNumber === undefined ? mailToSend(values) : undefined;
  let settle: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (settle = resolve));
  let sentId = -1;
  const agent = await startClient(dir, passphrase(values), {
    onEvent: (event) => {
      if (event.type !== 'status' || event.id !== sentId) return;
      process.stdout.write(`${describeEvent(event)}\n`);
      // `status` is the whole mail's: final once every recipient's envelope is.
      if (event.status === 'delivered') settle(0);
      if (event.status === 'failed') settle(1);
    },
  });
  try {
    const result = mail === undefined ? await agent.resend(agent.mailIdOf('sent', resendNumber as number)) : await agent.send(mail);
    sentId = result.id;
    const entry = agent.sent().find((m) => m.id === result.id);
    const waiting = entry?.status === 'waiting' ? entry.reason : undefined;
    process.stdout.write(queuedText(result.number, result.fragments, result.recipients.map((r) => ({ name: r.name, field: r.field })), '', waiting));
    if (values.wait !== true && waiting !== undefined) {
      process.stdout.write('it waits in the Sent folder; a running agent (`umbra client run`) sends it once the server is back\n');
      return 0;
    }
    if (values.wait !== true) {
      await agent.drained();
      process.stdout.write('sent; the acknowledgement arrives while `umbra client run` is running\n');
      return 0;
    }
    const timer = setTimeout(() => settle(1), timeoutMs);
    const code = await finished;
    clearTimeout(timer);
    if (code !== 0) process.stdout.write(`not acknowledged yet; it stays queued for the next run\n`);
    return code;
  } finally {
    await agent.close();
  }
}

async function run(dir: string, values: Values): Promise<number> {
  const port = integer('api-port', values['api-port'], 0, 65535, 0);
  const smtpPort = values['smtp-port'] === undefined ? undefined : integer('smtp-port', values['smtp-port'], 0, 65535, 0);
  const imapPort = values['imap-port'] === undefined ? undefined : integer('imap-port', values['imap-port'], 0, 65535, 0);
  const agent = await startClient(dir, passphrase(values), {
    onEvent: (event) => {
      const line = describeEvent(event);
      if (line !== undefined) process.stdout.write(`${line}\n`);
    },
  });
  try {
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const bridge = await startBridge({ agent, ...(smtpPort === undefined ? {} : { smtpPort }), ...(imapPort === undefined ? {} : { imapPort }), log }).catch((error: unknown) => {
      throw new UsageError(`client run: the mail bridge could not listen: ${(error as Error).message}`);
    });
    const api = await startApiServer({ agent, token: agent.apiToken(), port, log, bridge: () => bridge.endpoints });
    writeApiEndpoint(dir, { url: api.url, token: agent.apiToken(), pid: process.pid });
    process.stdout.write(`running as ${agent.name}; API at ${api.url} (\`umbra client --dir ${dir} api\` shows the token); Ctrl-C stops\n`);
    process.stdout.write(`web client: ${api.url}/ (paste the token that \`umbra client --dir ${dir} api\` prints)\n`);
    process.stdout.write(`mail bridge: IMAP on 127.0.0.1:${bridge.endpoints.imap.port}, SMTP on 127.0.0.1:${bridge.endpoints.smtp.port} (both STARTTLS); \`umbra client --dir ${dir} bridge\` shows the settings\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    removeApiEndpoint(dir, process.pid);
    await api.close();
    await bridge.close();
  } finally {
    await agent.close();
  }
  return 0;
}

/** Commands run in this process, on the directory itself (no agent is running). */
async function runLocal(dir: string, command: string | undefined, rest: readonly string[], values: Values, timeoutMs: number): Promise<number> {
  switch (command) {
    case 'init': {
      if (values.name === undefined || values.authority === undefined || values['authority-key'] === undefined) {
        throw new UsageError('client init: --name, --authority and --authority-key are required');
      }
      const result = await initClient(dir, {
        name: values.name,
        passphrase: passphrase(values),
        authority: { url: values.authority, publicKeys: [fromBase64Url(values['authority-key'], 'authority key', 32)] },
        ...(values.server !== undefined ? { servers: values.server } : {}),
        ...(values.mirror !== undefined ? { mirrors: values.mirror } : {}),
      });
      process.stdout.write(`${result.cardUri}\n`);
      return 0;
    }
    case 'card':
      return withClient(dir, values, (client) => (process.stdout.write(`${client.cardUri()}\n`), 0));
    case 'rotate-card': {
      const graceDays = integer('grace-days', values['grace-days'], 0, MAX_GRACE_DAYS, DEFAULT_GRACE_DAYS);
      return withClient(dir, values, (client) => {
        const uri = client.rotateCard(graceDays);
        process.stdout.write(`${uri}\nthe old card's address is still polled for ${graceDays} ${graceDays === 1 ? 'day' : 'days'}; contacts you already write with are unaffected\n`);
        return 0;
      });
    }
    case 'bridge':
      return withClient(dir, values, async (client) => {
        process.stdout.write(bridgeText(await localBridgeView(client), values['show-password'] === true, false));
        return 0;
      });
    case 'status':
      throw new UsageError(`client status: no agent runs in ${dir}; the status is a running agent's (start one with \`umbra client --dir ${dir} run\`)`);
    case 'api':
      return withClient(dir, values, (client) => {
        process.stdout.write(`no agent runs in ${dir}: start one with \`umbra client --dir ${dir} run\`\ntoken: ${client.apiToken()}\n`);
        return 0;
      });
    case 'contact':
      if (rest[0] === 'add' && rest[1] !== undefined) {
        return withClient(dir, values, (client) => {
          const contact = contactView(client.addContact(rest[1]));
          print(values.json, contact, () => addedText(contact));
          return 0;
        });
      }
      if (rest[0] === 'list') {
        return withClient(dir, values, (client) => {
          const contacts = client.contacts().map(contactView);
          print(values.json, contacts, () => contactsText(contacts));
          return 0;
        });
      }
      throw new UsageError('client contact: use `contact add URI` or `contact list`');
    case 'send':
      return send(dir, values, timeoutMs);
    case 'resend':
      return send(dir, values, timeoutMs, mailNumberArgument(rest[0], 'resend'));
    case 'inbox':
    case 'sent':
      return withClient(dir, values, (client) => {
        const mails = (command === 'inbox' ? client.inbox() : client.sent()).map(mailSummary);
        print(values.json, mails, () => (command === 'inbox' ? inboxText(mails) : sentText(mails)));
        return 0;
      });
    case 'read': {
      const number = mailNumberArgument(rest[0], values.sent === true ? 'read --sent' : 'read');
      return withClient(dir, values, (client) => {
        const mail = messageView(client.read(client.mailIdOf(values.sent === true ? 'sent' : 'inbox', number)));
        print(values.json, mail, () => messageText(mail));
        return 0;
      });
    }
    case 'run':
      return run(dir, values);
    case 'relay':
      return withClient(dir, values, (client) => relayCommand(client, rest[0], values));
    default:
      throw new UsageError(`client: unknown command '${command ?? ''}' (init, card, rotate-card, contact, send, resend, inbox, sent, read, run, api, bridge, relay, status)`);
  }
}

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
      return await runLocal(dir, command, rest, values, timeoutMs);
    } catch (error) {
      // An agent that is still starting holds the lock before its API is up: wait for the API.
      if (!(error instanceof ClientError && error.code === 'locked') || command === 'run' || command === 'init') throw error;
      const started = await agentStarting(dir);
      if (started === undefined) throw error;
      if (started === 'free') return await runLocal(dir, command, rest, values, timeoutMs);
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
