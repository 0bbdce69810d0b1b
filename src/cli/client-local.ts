import { fromBase64Url } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { parseHostPort } from '../pki/fields.js';
import {
  contactView, DEFAULT_GRACE_DAYS, DEFAULT_MIRRORS_REQUIRED, initClient, MAX_GRACE_DAYS, mailSummary, messageView, openClient, startApiServer, startBridge, startClient, writeApiEndpoint, removeApiEndpoint,
  type Client,
} from '../client/index.js';
import { addedText, contactsText, describeEvent, inboxText, mailNumberArgument, mailToSend, messageText, print, queuedText, sentText } from './client-print.js';
import { bridgeText, localBridgeView } from './client-bridge.js';
import { passphrase, type Values } from './client-options.js';
import { relayCommand } from './client-relay.js';
import { UsageError } from './errors.js';
import { integer } from './parse.js';

/**
 * The commands of `umbra client` that run in this process on the directory itself, when no agent
 * runs there: they load the whole client (keystore, mail store, agent, bridge), which a command
 * going through a running agent's API never needs.
 */
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

/** `--authority-key`: the authority's public key as network.json gives it (32 bytes, base64url). */
function authorityKey(text: string): Uint8Array {
  let key: Uint8Array | undefined;
  try {
    key = fromBase64Url(text, 'authority key', 32);
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
  }
  if (key === undefined || key.length !== 32) {
    throw new UsageError(`client init: --authority-key must be the authority's public key as network.json gives it (43 base64url characters), not '${text.slice(0, 60)}'`);
  }
  return key;
}

/** `--server`: a mailbox server's WebSocket address, HOST:PORT (a provider's `ws` in network.json). */
function serverAddress(text: string): string {
  if (parseHostPort(text) === undefined) throw new UsageError(`client init: --server must be a mailbox server's HOST:PORT (port 1 to 65535), not '${text.slice(0, 60)}'`);
  return text;
}

/** Commands run in this process, on the directory itself (no agent is running). */
export async function runLocal(dir: string, command: string | undefined, rest: readonly string[], values: Values, timeoutMs: number): Promise<number> {
  switch (command) {
    case 'init': {
      if (values.name === undefined || values.authority === undefined || values['authority-key'] === undefined) {
        throw new UsageError('client init: --name, --authority and --authority-key are required');
      }
      const publicKeys = [authorityKey(values['authority-key'])];
      const servers = values.server?.map(serverAddress);
      // The agent checks each consensus against this many mirrors: with fewer it could never start.
      if ((values.mirror?.length ?? 0) < DEFAULT_MIRRORS_REQUIRED) {
        throw new UsageError(
          `client init: give at least ${DEFAULT_MIRRORS_REQUIRED} --mirror URLs, which each consensus is checked against: another authority's https:// URL, or a node's mirrorUrl from network.json`,
        );
      }
      const result = await initClient(dir, {
        name: values.name,
        passphrase: passphrase(values),
        authority: { url: values.authority, publicKeys },
        ...(servers !== undefined ? { servers } : {}),
        mirrors: values.mirror ?? [],
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

