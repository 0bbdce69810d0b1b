import type { Client } from '../client/index.js';

/**
 * `umbra client --dir C bridge [--show-password]`: what a mail program needs to use the bridge
 * (docs/bridge.md). The password is shown only when asked for.
 */
export interface BridgeView {
  readonly host: string;
  readonly smtp?: { readonly port: number; readonly security: string };
  readonly imap?: { readonly port: number; readonly security: string };
  readonly username: string;
  readonly password: string;
  readonly certificate_sha1: string;
}

export function bridgeText(view: BridgeView, showPassword: boolean, running: boolean): string {
  const server = (what?: { port: number; security: string }): string => (what === undefined ? 'not running (start `umbra client --dir C run`)' : `${view.host} port ${what.port}, ${what.security}`);
  return [
    `IMAP (incoming): ${server(view.imap)}`,
    `SMTP (outgoing): ${server(view.smtp)}`,
    `user name:       ${view.username}`,
    `password:        ${showPassword ? view.password : '(hidden: add --show-password)'}`,
    `certificate:     self-signed for 127.0.0.1, SHA-1 fingerprint ${view.certificate_sha1}`,
    `addresses:       your contacts are NAME@umbra (see \`contact list\`)`,
    ...(running ? [] : ['the agent is not running: the bridge listens only while `run` does']),
  ].join('\n') + '\n';
}

/** The settings without a running agent: the credentials, and the port the last run used. */
export async function localBridgeView(client: Client): Promise<BridgeView> {
  const credentials = await client.bridgeCredentials();
  return {
    host: '127.0.0.1',
    ...(credentials.smtpPort === undefined ? {} : { smtp: { port: credentials.smtpPort, security: 'STARTTLS' } }),
    ...(credentials.imapPort === undefined ? {} : { imap: { port: credentials.imapPort, security: 'STARTTLS' } }),
    username: credentials.username,
    password: credentials.password,
    certificate_sha1: credentials.tls.fingerprint,
  };
}
