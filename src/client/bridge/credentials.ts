import { generate } from 'selfsigned';
import { toBase64Url } from '../../codec/bytes.js';

/**
 * What a mail program needs to log in to the bridge (docs/bridge.md): a password made once per
 * client directory, and a TLS certificate for STARTTLS made once per install (self-signed for
 * 127.0.0.1 and localhost; a mail program asks the user to trust it once, or is given its
 * fingerprint). Both are kept in the encrypted mail store, never in a plain file.
 */
export interface BridgeCredentials {
  /** The login name a mail program uses: the user's name. */
  readonly username: string;
  readonly password: string;
  readonly tls: { readonly key: string; readonly cert: string; readonly fingerprint: string };
  /** The SMTP and IMAP ports of the last run, so a mail program's settings stay right across restarts. */
  readonly smtpPort?: number;
  readonly imapPort?: number;
}

/** Where the agent keeps small secrets of its own (the sealed agent_state of the mail store). */
export interface SecretState {
  getAgentState(name: string): Uint8Array | undefined;
  putAgentState(name: string, value: Uint8Array): void;
}

const PASSWORD_STATE = 'bridge-password';
const TLS_STATE = 'bridge-tls';
const CERT_YEARS = 10;

/** The bridge password, made on first use from 16 random bytes. */
export function bridgePassword(state: SecretState, randomBytes: (n: number) => Uint8Array): string {
  const stored = state.getAgentState(PASSWORD_STATE);
  if (stored !== undefined) return new TextDecoder().decode(stored);
  const password = toBase64Url(randomBytes(16));
  state.putAgentState(PASSWORD_STATE, new TextEncoder().encode(password));
  return password;
}

/** The bridge's certificate and key (P-256), made on first use. */
export async function bridgeTls(state: SecretState, nowMs: number): Promise<BridgeCredentials['tls']> {
  const stored = state.getAgentState(TLS_STATE);
  if (stored !== undefined) return JSON.parse(new TextDecoder().decode(stored)) as BridgeCredentials['tls'];
  const made = await generate([{ name: 'commonName', value: 'Umbra bridge (127.0.0.1)' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(nowMs - 24 * 3600 * 1000),
    notAfterDate: new Date(nowMs + CERT_YEARS * 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
    ],
  });
  const tls = { key: made.private, cert: made.cert, fingerprint: made.fingerprint };
  state.putAgentState(TLS_STATE, new TextEncoder().encode(JSON.stringify(tls)));
  return tls;
}

const PORTS_STATE = 'bridge-ports';

export interface BridgePorts {
  readonly smtp?: number;
  readonly imap?: number;
}

function portOf(value: unknown): number | undefined {
  return Number.isInteger(value) && (value as number) > 0 && (value as number) < 65536 ? (value as number) : undefined;
}

export function rememberedPorts(state: SecretState): BridgePorts {
  const stored = state.getAgentState(PORTS_STATE);
  if (stored === undefined) return {};
  const { smtp, imap } = JSON.parse(new TextDecoder().decode(stored)) as { smtp?: unknown; imap?: unknown };
  const ports: { smtp?: number; imap?: number } = {};
  if (portOf(smtp) !== undefined) ports.smtp = portOf(smtp);
  if (portOf(imap) !== undefined) ports.imap = portOf(imap);
  return ports;
}

export function rememberPorts(state: SecretState, ports: BridgePorts): void {
  state.putAgentState(PORTS_STATE, new TextEncoder().encode(JSON.stringify(ports)));
}
