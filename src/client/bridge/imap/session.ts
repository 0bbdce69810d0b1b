import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { MailFolders } from '../../mail-folders.js';
import { dispatch, type Reply } from './commands.js';
import { parseCommand, ParseError, type Command } from './parser.js';
import { CommandReader, type RawCommand } from './reader.js';
import { toBuffer, type Chunk } from './response.js';
import type { SelectedFolder } from './selected.js';
import type { ImapSession, SessionOptions, SessionState } from './session-types.js';

export type { ImapSession, LoginCheck, SessionOptions, SessionState } from './session-types.js';

/**
 * One IMAP connection (RFC 3501 section 3): its state (not authenticated, authenticated,
 * selected, logout), the commands it reads one at a time in order, STARTTLS, and the untagged
 * updates that tell the mail program what changed in its selected folder.
 */
const MAX_LINE = 64 * 1024;
const MAX_QUEUED = 64;
const IDLE_TIMEOUT_MS = { unauthenticated: 60_000, authenticated: 30 * 60_000 };

export class Session implements ImapSession {
  state: SessionState = 'not-authenticated';
  tls = false;
  selected: SelectedFolder | undefined;
  private socket: Socket;
  private readonly reader: CommandReader;
  private readonly queue: RawCommand[] = [];
  private waiting: ((raw: RawCommand | undefined) => void) | undefined;
  private closed = false;
  /** Set while IDLE runs: a store change is pushed at once. */
  idling: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(socket: Socket, readonly options: SessionOptions, private readonly onClose: () => void) {
    this.socket = socket;
    this.reader = new CommandReader({ maxLine: MAX_LINE, maxLiteral: options.maxLiteral }, {
      command: (raw) => this.enqueue(raw),
      continueLiteral: () => this.write(['+ go ahead\r\n']),
      refuse: (tag, text) => this.write([`${tag} BAD ${text}\r\n`]),
      fatal: (text) => this.bye(text),
    });
    this.unsubscribe = options.folders.onChange((folderId) => {
      if (this.idling !== undefined && this.selected?.folder.id === folderId) setImmediate(() => this.idling?.());
    });
    this.attach(socket);
    socket.setTimeout(IDLE_TIMEOUT_MS.unauthenticated);
    this.write(['* OK [CAPABILITY ', this.capabilities(), '] Umbra bridge IMAP ready\r\n']);
    void this.run();
  }

  get folders(): MailFolders {
    return this.options.folders;
  }

  private attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      if (this.queue.length > MAX_QUEUED) socket.pause();
    });
    socket.on('timeout', () => this.bye('idle for too long'));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  capabilities(): string {
    const auth = this.tls ? ['AUTH=PLAIN', 'SASL-IR'] : ['STARTTLS', 'LOGINDISABLED'];
    return ['IMAP4rev1', 'LITERAL+', 'IDLE', 'UIDPLUS', 'MOVE', 'UNSELECT', 'CHILDREN', 'ID', ...auth].join(' ');
  }

  private enqueue(raw: RawCommand): void {
    if (this.waiting !== undefined) {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting(raw);
    } else this.queue.push(raw);
  }

  /** The next line or command from the client; undefined once the connection is closed. */
  next(): Promise<RawCommand | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const raw = this.queue.shift();
    if (this.queue.length <= MAX_QUEUED / 2 && this.socket.isPaused()) this.socket.resume();
    if (raw !== undefined) return Promise.resolve(raw);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      const raw = await this.next();
      if (raw === undefined) return;
      let command: Command;
      try {
        command = parseCommand(raw);
      } catch (error) {
        if (!(error instanceof ParseError)) throw error;
        await this.send([`${error.tag} BAD ${error.message}\r\n`]);
        continue;
      }
      await this.execute(command);
      if (this.state === 'logout') return this.end();
    }
  }

  private async execute(command: Command): Promise<void> {
    let reply: Reply;
    try {
      reply = await dispatch(this, command);
    } catch (error) {
      this.options.log?.(`bridge imap: internal error in ${command.name}: ${error instanceof Error ? error.message : String(error)}`);
      reply = { status: 'NO', text: '[SERVERBUG] internal error; nothing was changed by this command' };
    }
    if (this.closed) return;
    if (this.selected !== undefined && reply.status !== 'BAD') {
      const quiet = ['FETCH', 'STORE', 'SEARCH'].includes(command.name);
      const updates = this.selected.update(!quiet);
      if (updates.length > 0) await this.send(updates);
    }
    await this.send([`${command.tag} ${reply.status} ${reply.text}\r\n`]);
    reply.afterReply?.();
  }

  /** Writes and waits while the socket's buffer is full. */
  async send(chunks: readonly Chunk[]): Promise<void> {
    if (this.closed) return;
    if (!this.socket.write(toBuffer(chunks))) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
    }
  }

  write(chunks: readonly Chunk[]): void {
    if (!this.closed) this.socket.write(toBuffer(chunks));
  }

  authenticated(): void {
    this.state = 'authenticated';
    this.socket.setTimeout(IDLE_TIMEOUT_MS.authenticated);
  }

  /** After the tagged OK to STARTTLS: every byte read before is dropped, and TLS begins. */
  startTls(): void {
    this.reader.reset();
    this.queue.length = 0;
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('timeout');
    const secure = new TLSSocket(plain, { isServer: true, secureContext: this.options.secureContext });
    secure.setTimeout(IDLE_TIMEOUT_MS.unauthenticated);
    this.socket = secure;
    this.tls = true;
    this.attach(secure);
  }

  bye(text: string): void {
    this.write([`* BYE ${text}\r\n`]);
    this.end();
  }

  private end(): void {
    this.reader.stop();
    this.socket.end();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.idling = undefined;
    this.waiting?.(undefined);
    this.waiting = undefined;
    this.onClose();
  }

  destroy(): void {
    this.socket.destroy();
    this.close();
  }
}
