import type { AgentStatus, ApiEndpoint } from '../client/index.js';
import { AgentApi } from './agent-api.js';
import { bridgeText, type BridgeView } from './client-bridge.js';
import { addedText, contactsText, inboxText, mailNumberArgument, mailToSend, messageText, print, queuedText, sentText, statusText } from './client-print.js';
import { AgentApiError } from './agent-api.js';
import { UsageError } from './errors.js';

/**
 * `umbra client` subcommands while an agent runs in the directory: each goes through the agent's
 * local API (docs/api.md), so the agent keeps its links and its schedule.
 */
export interface RemoteOptions {
  readonly json?: boolean;
  readonly sent?: boolean;
  readonly 'show-password'?: boolean;
  readonly wait?: boolean;
  readonly timeoutMs: number;
  readonly to?: readonly string[];
  readonly cc?: readonly string[];
  readonly bcc?: readonly string[];
  readonly subject?: string;
  readonly body?: string;
  readonly 'body-file'?: string;
}

type View = Record<string, unknown>;

export async function runRemote(endpoint: ApiEndpoint, command: string | undefined, rest: readonly string[], options: RemoteOptions): Promise<number> {
  const api = new AgentApi(endpoint);
  switch (command) {
    case 'card': {
      const { card_uri } = await api.call<{ card_uri: string }>('GET', '/api/v1/card');
      process.stdout.write(`${card_uri}\n`);
      return 0;
    }
    case 'contact':
      if (rest[0] === 'add' && rest[1] !== undefined) {
        const contact = await api.call<View>('POST', '/api/v1/contacts', { card_uri: rest[1].trim() });
        print(options.json, contact, () => addedText(contact));
        return 0;
      }
      if (rest[0] === 'list') {
        const contacts = await api.call<View[]>('GET', '/api/v1/contacts');
        print(options.json, contacts, () => contactsText(contacts));
        return 0;
      }
      throw new UsageError('client contact: use `contact add URI` or `contact list`');
    case 'inbox':
    case 'sent': {
      const mails = await allMail(api, command);
      print(options.json, mails, () => (command === 'inbox' ? inboxText(mails) : sentText(mails)));
      return 0;
    }
    case 'read': {
      const folder = options.sent === true ? 'sent' : 'inbox';
      const id = await mailIdOf(api, folder, mailNumberArgument(rest[0], options.sent === true ? 'read --sent' : 'read'));
      const mail = await api.call<View>('GET', `/api/v1/messages/${id}`);
      print(options.json, mail, () => messageText(mail));
      return 0;
    }
    case 'send':
      return sendRemote(api, options);
    case 'resend': {
      const id = await mailIdOf(api, 'sent', mailNumberArgument(rest[0], 'resend'));
      const queued = await api.call<Queued>('POST', `/api/v1/messages/${id}/resend`);
      return afterQueued(api, queued, options);
    }
    case 'bridge': {
      const view = await api.call<BridgeView>('GET', '/api/v1/bridge');
      process.stdout.write(bridgeText(view, options['show-password'] === true, true));
      return 0;
    }
    case 'status': {
      const status = await api.call<AgentStatus>('GET', '/api/v1/status');
      print(options.json, status as unknown as View, () => statusText(status));
      return 0;
    }
    case 'api':
      process.stdout.write(`url: ${endpoint.url}\ntoken: ${endpoint.token}\nagent: process ${endpoint.pid}\n`);
      return 0;
    case 'run':
      throw new UsageError(`client run: an agent already runs in this directory (process ${endpoint.pid})`);
    case 'relay':
      throw new UsageError(`client relay: stop the agent running in this directory (process ${endpoint.pid}) first; the relay is read at each send`);
    default:
      return -1; // not a command the agent serves: the caller decides
  }
}

async function allMail(api: AgentApi, folder: 'inbox' | 'sent'): Promise<View[]> {
  const mails: View[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await api.call<{ total: number; items: View[] }>('GET', `/api/v1/zk-mailbox-db?folder=${folder}&offset=${offset}&limit=500`);
    mails.push(...page.items);
    if (page.items.length < 500 || mails.length >= page.total) return mails;
  }
}

/** The API's id of mail `number` of a folder; 'unknown-mail' when there is none. */
async function mailIdOf(api: AgentApi, folder: 'inbox' | 'sent', number: number): Promise<number> {
  const page = await api.call<{ items: View[] }>('GET', `/api/v1/zk-mailbox-db?folder=${folder}&number=${number}`);
  const id = page.items[0]?.id;
  if (typeof id !== 'number') throw new AgentApiError(404, 'unknown-mail', `no ${folder} mail #${number}`);
  return id;
}

async function sendRemote(api: AgentApi, options: RemoteOptions): Promise<number> {
  const mail = mailToSend(options);
  const queued = await api.call<Queued>('POST', '/api/v1/zk-send', mail);
  return afterQueued(api, queued, options);
}

interface Queued {
  readonly id: number;
  readonly number: number;
  readonly fragments: number;
  readonly recipients: readonly { name: string; field: string }[];
  readonly status?: string;
  readonly reason?: string;
}

/** Says what the agent did with a sent or resent mail; with --wait, follows it until it is final. */
async function afterQueued(api: AgentApi, queued: Queued, options: RemoteOptions): Promise<number> {
  process.stdout.write(queuedText(queued.number, queued.fragments, queued.recipients, ' in the running agent', queued.status === 'waiting' ? queued.reason : undefined));
  if (options.wait !== true) return 0;
  const outcome = await api.waitForDelivery(queued.id, queued.number, options.timeoutMs, (line) => process.stdout.write(`${line}\n`));
  if (outcome === 'delivered') return 0;
  if (outcome === undefined) process.stdout.write('not acknowledged yet; the running agent keeps trying\n');
  return 1;
}
