import { isIP } from 'node:net';
import { ClientError } from './errors.js';
import type { MailStore } from './mail-store.js';

/**
 * The SMTP relay for ordinary email (docs/bridge.md, "Ordinary email through a relay"): off until
 * the user sets one (`umbra client relay set`), and used only for a message the user marks for it
 * (`X-Umbra-Deliver: external` at the bridge, `external: true` in the API). Such mail is NOT
 * private. The whole setting, password included, is one entry of the agent's state in the mail
 * store, sealed under the store key that the encrypted keystore holds; it never sits in a plain file.
 */
export type RelayTls = 'starttls' | 'tls' | 'none';
export const RELAY_TLS_MODES: readonly RelayTls[] = ['starttls', 'tls', 'none'];

export interface RelayConfig {
  readonly host: string;
  readonly port: number;
  /** 'starttls' (required, the default), 'tls' (implicit, port 465), 'none' (loopback hosts only). */
  readonly tls: RelayTls;
  readonly username?: string;
  readonly password?: string;
  /** The user's ordinary address: the From of mail sent through the relay. */
  readonly from: string;
}

/** What may be shown of the setting: everything but the password. */
export interface RelayView {
  readonly host: string;
  readonly port: number;
  readonly tls: RelayTls;
  readonly username?: string;
  readonly hasPassword: boolean;
  readonly from: string;
}

/** The agent-state entry that holds the relay setting. */
const RELAY_STATE = 'relay';
const VERSION = 1;
const HOST = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/;
/** A plain mailbox address, no display name: "local@domain". */
export const PLAIN_ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/;

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** Every problem with a relay setting (empty when there is none). */
export function relayProblems(config: RelayConfig): string[] {
  const problems: string[] = [];
  const hostOk = typeof config.host === 'string' && (HOST.test(config.host) || isIP(config.host) !== 0);
  if (!hostOk) problems.push('the relay host must be a host name or an IP address');
  if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535) problems.push('the relay port must be a whole number from 1 to 65535');
  if (!RELAY_TLS_MODES.includes(config.tls)) problems.push(`the relay's TLS must be one of ${RELAY_TLS_MODES.join(', ')}`);
  else if (config.tls === 'none' && hostOk && !isLoopbackHost(config.host)) problems.push('a relay without TLS is allowed on this machine (127.0.0.1, localhost) only: the password and the mail would cross the network in clear');
  if (typeof config.from !== 'string' || !PLAIN_ADDRESS.test(config.from) || config.from.length > 254) problems.push('--from must be your ordinary address, like you@example.com');
  for (const [name, value] of [['user', config.username], ['password', config.password]] as const) {
    if (value !== undefined && (typeof value !== 'string' || value.length === 0 || value.length > 512 || /[\r\n\0]/.test(value))) problems.push(`the relay ${name} must be 1 to 512 characters on one line`);
  }
  if ((config.username === undefined) !== (config.password === undefined)) problems.push('give both a relay user and a password, or neither');
  return problems;
}

export function relayView(config: RelayConfig): RelayView {
  const { host, port, tls, username, from } = config;
  return { host, port, tls, ...(username === undefined ? {} : { username }), hasPassword: config.password !== undefined, from };
}

/** The relay setting, or undefined while none is set (ordinary email is then refused). */
export function readRelay(store: MailStore): RelayConfig | undefined {
  const bytes = store.getAgentState(RELAY_STATE);
  if (bytes === undefined || bytes.length === 0) return undefined;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { v?: number; config?: RelayConfig };
    if (parsed.v !== VERSION || parsed.config === undefined || relayProblems(parsed.config).length > 0) throw new Error('bad relay entry');
    return parsed.config;
  } catch {
    throw new ClientError('corrupt-keystore', 'the stored relay setting does not parse: set it again (umbra client relay set)');
  }
}

/** Checks and stores a relay setting ('bad-options' naming every problem). */
export function writeRelay(store: MailStore, config: RelayConfig): RelayView {
  const clean: RelayConfig = {
    host: config.host, port: config.port, tls: config.tls, from: config.from,
    ...(config.username === undefined ? {} : { username: config.username }), ...(config.password === undefined ? {} : { password: config.password }),
  };
  const problems = relayProblems(clean);
  if (problems.length > 0) throw new ClientError('bad-options', problems.join('; '));
  store.putAgentState(RELAY_STATE, new TextEncoder().encode(JSON.stringify({ v: VERSION, config: clean })));
  return relayView(clean);
}

/** Forgets the relay: ordinary email is refused again. */
export function clearRelay(store: MailStore): boolean {
  const had = store.getAgentState(RELAY_STATE) !== undefined && store.getAgentState(RELAY_STATE)!.length > 0;
  store.putAgentState(RELAY_STATE, new Uint8Array(0));
  return had;
}
