import { createHash } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ImapFlow } from 'imapflow';
import { hexOf } from '../../src/codec/bytes.js';
import { initClient, openClient, startImapServer, type BridgeCredentials, type Client, type ImapServer } from '../../src/client/index.js';
import type { ClientCore } from '../../src/client/directory.js';
import { buildMail, syntheticAddress } from '../../src/client/mail-build.js';
import type { Attachment } from '../../src/client/mail-format.js';
import { parseMail } from '../../src/client/mail-format.js';
import { FAST_KDF, tempDir } from './support.js';

/**
 * An offline client directory with the bridge's IMAP server on its folders, for the IMAP tests:
 * mail is put into the store the way the agent's inbox puts a received mail there, so that most
 * tests need no network. `restart` closes everything and opens the directory again, as a restart
 * of the agent does.
 */
export interface Mailbox {
  readonly dir: string;
  client: Client;
  server: ImapServer;
  credentials: BridgeCredentials;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function openMailbox(name: string): Promise<Mailbox> {
  const dir = join(tempDir('umbra-imap-'), name);
  await initClient(dir, { name, passphrase: 'pass', authority: { url: 'https://127.0.0.1:9', publicKeys: [new Uint8Array(32).fill(1)] }, servers: ['127.0.0.1:4001'], kdf: FAST_KDF });
  const open = async (): Promise<{ client: Client; server: ImapServer; credentials: BridgeCredentials }> => {
    const client = await openClient(dir, 'pass');
    const credentials = await client.bridgeCredentials();
    const server = await startImapServer({ folders: client.folders(), credentials, port: 0 });
    return { client, server, credentials };
  };
  const box = { dir, ...(await open()) } as Mailbox;
  box.close = async () => {
    await box.server.close();
    await box.client.close();
  };
  box.restart = async () => {
    await box.close();
    Object.assign(box, await open());
  };
  return box;
}

let counter = 0;

/** Stores a received mail as the agent's inbox does (Inbox.store: addInbox with the parsed metadata); its store id. */
export function deliver(box: Mailbox, mail: { from: string; subject: string; body: string; attachments?: Attachment[]; dateMs?: number }): number {
  const store = (box.client as unknown as { core: ClientCore }).core.store;
  const messageId = createHash('sha256').update(`mail ${++counter} ${mail.subject}`).digest().subarray(0, 16);
  const dateMs = mail.dateMs ?? Date.UTC(2026, 11, 1, 9, 30);
  const raw = buildMail({
    from: { name: mail.from, address: syntheticAddress(mail.from) },
    to: [{ name: box.client.name, address: syntheticAddress(box.client.name) }],
    subject: mail.subject, body: mail.body, dateMs, messageId: `${hexOf(messageId)}@umbra`,
    ...(mail.attachments === undefined ? {} : { attachments: mail.attachments, boundary: `b-${counter}` }),
  });
  const parsed = parseMail(raw);
  const id = store.addInbox(
    { messageId: hexOf(messageId), fromKey: 'ab'.repeat(32), fromName: mail.from, receivedMs: dateMs + 60_000, read: false, subject: parsed.subject, date: parsed.date, size: raw.length, attachments: parsed.attachments.length },
    messageId,
    raw,
  );
  if (id === undefined) throw new Error('the test mail was stored twice');
  return id;
}

export function imapflow(box: Mailbox, auth: { user: string; pass: string } = { user: box.credentials.username, pass: box.credentials.password }): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port: box.server.port, secure: false, doSTARTTLS: true, tls: { ca: [box.credentials.tls.cert] }, auth, logger: false, verifyOnly: false });
}

/**
 * A bare IMAP connection for the bad-input tests: it writes exactly the bytes given and reads
 * responses line by line (literals included), optionally after STARTTLS.
 */
export class RawImap {
  private buffer = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.listen(socket);
  }

  private listen(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('latin1');
      for (const waiter of this.waiters.splice(0)) waiter();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const waiter of this.waiters.splice(0)) waiter();
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<RawImap> {
    const socket = netConnect(port, '127.0.0.1');
    const raw = new RawImap(socket);
    await raw.until(/^\* (OK|BYE).*\r\n/m);
    return raw;
  }

  /** STARTTLS, then the TLS handshake trusting the bridge's certificate. */
  async startTls(cert: string): Promise<void> {
    this.write('s1 STARTTLS\r\n');
    await this.until(/^s1 OK.*\r\n/m);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tlsConnect({ socket: plain, ca: [cert], servername: 'localhost' });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    this.socket = secure;
    this.buffer = '';
    this.listen(secure);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until the received text matches; returns everything received so far, and clears it. */
  async until(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.buffer)) {
      if (this.closed) throw new Error(`connection closed; received: ${this.buffer.slice(-300)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; received: ${this.buffer.slice(-300)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
    const text = this.buffer;
    this.buffer = '';
    return text;
  }

  /** Sends a tagged command and returns everything up to its tagged reply. */
  async command(tag: string, line: string): Promise<string> {
    this.write(`${tag} ${line}\r\n`);
    return this.until(new RegExp(`^${tag} (OK|NO|BAD).*\\r\\n`, 'm'));
  }

  async closedByServer(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  end(): void {
    this.socket.destroy();
  }
}
