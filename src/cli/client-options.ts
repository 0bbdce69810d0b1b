import { parseArgs } from 'node:util';
import { readTextFile } from './client-print.js';
import { UsageError } from './errors.js';

/** The options of `umbra client` (src/cli/client-command.ts lists the commands they go with). */
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

export type Values = ReturnType<typeof parse>['values'];

export function parse(args: readonly string[]) {
  try {
    return parseArgs({ args: [...args], options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(`client: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** The passphrase from --passphrase-file or UMBRA_PASSPHRASE; never from the command line (it would show in `ps`). */
export function passphrase(values: Values): string {
  const file = values['passphrase-file'];
  const text = file !== undefined ? readTextFile('passphrase-file', file).replace(/\r?\n$/, '') : process.env.UMBRA_PASSPHRASE;
  if (text === undefined || text.length === 0) throw new UsageError('client: set UMBRA_PASSPHRASE or pass --passphrase-file FILE');
  return text;
}

