import type { Client } from '../client/index.js';
import { RELAY_TLS_MODES, type RelayView } from '../client/relay.js';
import { UsageError } from './errors.js';
import { choice, integer } from './parse.js';
import { print, readTextFile } from './client-print.js';

/**
 * `umbra client relay set|show|clear`: the SMTP relay for ordinary email (docs/bridge.md,
 * "Ordinary email through a relay"). Off until set; even then a mail goes through it only when
 * asked for that mail, and is not private. The password comes from a file (never the command line).
 */
export interface RelayOptions {
  readonly host?: string;
  readonly port?: string;
  readonly tls?: string;
  readonly user?: string;
  readonly from?: string;
  readonly 'relay-password-file'?: string;
  readonly json?: boolean;
}

const DEFAULT_PORT = { starttls: 587, tls: 465, none: 25 } as const;

export function relayText(view: RelayView | undefined): string {
  if (view === undefined) return 'no relay: ordinary email is refused (umbra client relay set --host H --from ADDRESS …)\n';
  const login = view.username === undefined ? 'no login' : `user ${view.username}${view.hasPassword ? ' (password kept)' : ''}`;
  return `relay ${view.host}:${view.port} (${view.tls}), ${login}, from ${view.from}\nmail goes through it only when asked for that mail, and is NOT private\n`;
}

export function relayCommand(client: Client, action: string | undefined, options: RelayOptions): number {
  switch (action) {
    case 'show': {
      const view = client.relay();
      print(options.json, view ?? null, () => relayText(view));
      return 0;
    }
    case 'clear':
      process.stdout.write(client.clearRelay() ? 'relay cleared: ordinary email is refused again\n' : 'no relay was set\n');
      return 0;
    case 'set': {
      if (options.host === undefined || options.from === undefined) throw new UsageError('client relay set: --host and --from are required');
      const tls = choice('tls', options.tls, RELAY_TLS_MODES, 'starttls');
      const port = integer('port', options.port, 1, 65535, DEFAULT_PORT[tls]);
      const file = options['relay-password-file'];
      if ((options.user === undefined) !== (file === undefined)) throw new UsageError('client relay set: give --user and --relay-password-file together, or neither');
      const password = file === undefined ? undefined : readTextFile('relay-password-file', file).replace(/\r?\n$/, '');
      const view = client.setRelay({ host: options.host, port, tls, from: options.from, ...(options.user === undefined ? {} : { username: options.user }), ...(password === undefined ? {} : { password }) });
      process.stdout.write(relayText(view));
      return 0;
    }
    default:
      throw new UsageError('client relay: use `relay set --host H [--port N] [--tls starttls|tls|none] [--user U --relay-password-file F] --from ADDRESS`, `relay show` or `relay clear`');
  }
}
