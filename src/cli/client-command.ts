import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fromBase64Url } from '../codec/bytes.js';
import { ClientError, initClient, type ClientErrorCode, openClient, startClient, type Client, type ClientEvent } from '../client/index.js';
import { EXIT_FAILED, EXIT_USAGE, UsageError } from './errors.js';
import { integer } from './parse.js';

/**
 * `umbra client --dir C <command>`: the user's side (docs/client.md). The passphrase comes from
 * UMBRA_PASSPHRASE or --passphrase-file, never from the command line (it would show in `ps`).
 *   init --name N --authority URL --authority-key KEY [--server HOST:PORT] [--mirror URL]…   make keys; print the card
 *   card | contact add URI | contact list [--json]
 *   send --to NAME --subject S (--body B | --body-file F) [--no-wait] [--timeout-ms N]
 *   inbox [--json] | sent [--json] | read ID [--json] | run
 */
const OPTIONS = {
  dir: { type: 'string' },
  'passphrase-file': { type: 'string' },
  name: { type: 'string' },
  authority: { type: 'string' },
  'authority-key': { type: 'string' },
  server: { type: 'string', multiple: true },
  mirror: { type: 'string', multiple: true },
  to: { type: 'string' },
  subject: { type: 'string' },
  body: { type: 'string' },
  'body-file': { type: 'string' },
  'no-wait': { type: 'boolean' },
  'timeout-ms': { type: 'string' },
  json: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parse>['values'];

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

/** Refusals that are the caller's mistake, not the network's: exit code 2, like a bad option. */
const USER_MISTAKES: ReadonlySet<ClientErrorCode> = new Set<ClientErrorCode>([
  'bad-passphrase', 'not-initialized', 'already-initialized', 'locked', 'bad-options', 'bad-card',
  'unknown-contact', 'ambiguous-contact', 'too-large', 'unknown-mail',
]);

/**
 * The largest body + subject `send` takes, checked before the agent connects: the largest padded
 * message (8,192 shards of ~1.9 KB) less room for headers and base64 (README, "Usage").
 */
export const MAX_MAIL_TEXT_BYTES = 8 * 2 ** 20;

/** A file named by an option, as UTF-8 text; a missing, unreadable or binary file is a UsageError. */
function readTextFile(option: string, path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (code ?? 'unreadable');
    throw new UsageError(`option '--${option}': cannot read ${path}: ${why}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`option '--${option}': ${path} is not UTF-8 text`);
  }
}

function print(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(json === true ? `${JSON.stringify(value)}\n` : text());
}

function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

async function withClient<T>(dir: string, values: Values, use: (client: Client) => T | Promise<T>): Promise<T> {
  const client = await openClient(dir, passphrase(values));
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

function describeEvent(event: ClientEvent): string | undefined {
  switch (event.type) {
    case 'received': return `received #${event.id} from ${event.from}: ${event.subject}`;
    case 'status': return `sent #${event.id} is ${event.status}${event.reason !== undefined ? `: ${event.reason}` : ''}`;
    case 'resend': return `sent #${event.id}: resending ${event.shards} fragments (${event.cause})`;
    case 'error': return `error in ${event.where}: ${event.message}`;
    default: return undefined;
  }
}

async function send(dir: string, values: Values): Promise<number> {
  if (values.to === undefined || values.subject === undefined) throw new UsageError('client send: --to and --subject are required');
  if (values.body !== undefined && values['body-file'] !== undefined) throw new UsageError('client send: give --body or --body-file, not both');
  if (values.body === undefined && values['body-file'] === undefined) throw new UsageError('client send: give --body or --body-file');
  const body = values.body ?? readTextFile('body-file', values['body-file'] as string);
  const bytes = Buffer.byteLength(body, 'utf8') + Buffer.byteLength(values.subject, 'utf8');
  if (bytes > MAX_MAIL_TEXT_BYTES) {
    throw new UsageError(`client send: the mail is ${bytes} bytes; the limit is ${MAX_MAIL_TEXT_BYTES} bytes (${MAX_MAIL_TEXT_BYTES / 2 ** 20} MiB)`);
  }
  const timeoutMs = integer('timeout-ms', values['timeout-ms'], 1000, 24 * 3600 * 1000, 120_000);
  let settle: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (settle = resolve));
  let sentId = -1;
  const agent = await startClient(dir, passphrase(values), {
    onEvent: (event) => {
      if (event.type === 'status' && event.id === sentId) {
        process.stdout.write(`${describeEvent(event)}\n`);
        if (event.status === 'delivered') settle(0);
        if (event.status === 'failed') settle(1);
      }
    },
  });
  try {
    const result = await agent.send({ to: values.to, subject: values.subject, body });
    sentId = result.id;
    process.stdout.write(`queued #${result.id} (${result.fragments} packets)\n`);
    if (values['no-wait'] === true) {
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
  const agent = await startClient(dir, passphrase(values), {
    onEvent: (event) => {
      const line = describeEvent(event);
      if (line !== undefined) process.stdout.write(`${line}\n`);
    },
  });
  process.stdout.write(`running as ${agent.name}; Ctrl-C stops\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await agent.close();
  return 0;
}

export async function clientCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args);
  const dir = values.dir;
  if (dir === undefined) throw new UsageError('client: --dir DIR is required');
  const [command, ...rest] = positionals;
  try {
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
        return await withClient(dir, values, (client) => (process.stdout.write(`${client.cardUri()}\n`), 0));
      case 'contact':
        if (rest[0] === 'add' && rest[1] !== undefined) {
          return await withClient(dir, values, (client) => {
            const contact = client.addContact(rest[1]);
            process.stdout.write(`added ${contact.name}\nsafety number: ${contact.safetyNumber}\n`);
            return 0;
          });
        }
        if (rest[0] === 'list') {
          return await withClient(dir, values, (client) => {
            const contacts = client.contacts();
            print(values.json, contacts, () => contacts.map((c) => `${c.name}  ${c.key.slice(0, 16)}  ${c.safetyNumber}\n`).join(''));
            return 0;
          });
        }
        throw new UsageError('client contact: use `contact add URI` or `contact list`');
      case 'send':
        return await send(dir, values);
      case 'inbox':
      case 'sent':
        return await withClient(dir, values, (client) => {
          if (command === 'inbox') {
            const mails = client.inbox();
            print(values.json, mails, () => mails.map((m) => `#${m.id} ${m.read ? ' ' : '*'} ${time(m.receivedMs)}  ${m.fromName}  ${m.subject}\n`).join('') || 'no mail\n');
          } else {
            const mails = client.sent();
            print(values.json, mails, () => mails.map((m) => `#${m.id} ${time(m.createdMs)}  to ${m.toName}  [${m.status}]  ${m.subject}\n`).join('') || 'nothing sent\n');
          }
          return 0;
        });
      case 'read': {
        if (rest[0] === undefined) throw new UsageError('client read: give the mail id (see `client inbox`)');
        if (!/^[1-9]\d{0,15}$/.test(rest[0])) throw new UsageError(`client read: the mail id is a number from \`client inbox\`, not '${rest[0]}'`);
        const id = Number(rest[0]);
        return await withClient(dir, values, (client) => {
          const mail = client.read(id);
          const { parsed } = mail;
          print(values.json, { id, from: parsed.from, to: parsed.to, subject: parsed.subject, date: parsed.date, text: parsed.text, attachments: parsed.attachments.map((a) => a.filename) },
            () => `From: ${parsed.from}\nTo: ${parsed.to}\nDate: ${parsed.date}\nSubject: ${parsed.subject}\n\n${parsed.text}\n`);
          return 0;
        });
      }
      case 'run':
        return await run(dir, values);
      default:
        throw new UsageError(`client: unknown command '${command ?? ''}' (init, card, contact, send, inbox, sent, read, run)`);
    }
  } catch (error) {
    if (error instanceof ClientError) {
      process.stderr.write(`umbra client: ${error.message}\n`);
      return USER_MISTAKES.has(error.code) ? EXIT_USAGE : EXIT_FAILED;
    }
    throw error;
  }
}
