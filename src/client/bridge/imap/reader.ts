/**
 * Cuts an IMAP client's byte stream into commands (RFC 3501 section 2.2, with RFC 7888 LITERAL+):
 * a command is its text with each literal marker (`{N}` or `{N+}`) left in place and the literals'
 * bytes beside it, in order. Everything is bounded: a line longer than MAX_LINE is skipped up to its
 * end and reported, a synchronizing literal larger than the limit is refused before the client
 * sends it (the connection goes on), a non-synchronizing one that large ends the connection.
 */
export interface RawCommand {
  readonly text: string;
  readonly literals: readonly Buffer[];
}

export interface ReaderLimits {
  /** The longest line of command text, CRLF excluded. */
  readonly maxLine: number;
  /** The largest literal, and the largest sum of literals in one command. */
  readonly maxLiteral: number;
}

export interface ReaderSink {
  command(raw: RawCommand): void;
  /** A synchronizing literal is wanted: the client waits for `+`. */
  continueLiteral(): void;
  /** A refused command: the tag it began with (or '*') and why; the connection goes on. */
  refuse(tag: string, text: string): void;
  /** The stream cannot be followed any more: say BYE and close. */
  fatal(text: string): void;
}

const LITERAL_AT_END = /\{(\d{1,20})(\+?)\}$/;
const CRLF = Buffer.from('\r\n');

export class CommandReader {
  private buffer: Buffer = Buffer.alloc(0);
  private text = '';
  private literals: Buffer[] = [];
  private literalBytes = 0;
  /** Bytes of the literal being read. */
  private literalLeft = -1;
  private literalParts: Buffer[] = [];
  private skippingLine = false;
  private stopped = false;

  constructor(private readonly limits: ReaderLimits, private readonly sink: ReaderSink) {}

  /** Forgets everything buffered (after STARTTLS no byte sent before the handshake may count). */
  reset(): void {
    this.buffer = Buffer.alloc(0);
    this.clearCommand();
  }

  stop(): void {
    this.stopped = true;
    this.reset();
  }

  private clearCommand(): void {
    this.text = '';
    this.literals = [];
    this.literalBytes = 0;
    this.literalLeft = -1;
    this.literalParts = [];
  }

  push(chunk: Buffer): void {
    if (this.stopped) return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (!this.stopped && this.buffer.length > 0) {
      if (this.literalLeft >= 0) {
        if (!this.takeLiteral()) return;
        continue;
      }
      const end = this.buffer.indexOf(CRLF);
      if (end < 0) {
        if (this.buffer.length > this.limits.maxLine) {
          this.skippingLine = true;
          this.buffer = this.buffer.subarray(this.buffer.length - 1); // keep a possible CR
        }
        return;
      }
      const line = this.buffer.subarray(0, end);
      this.buffer = this.buffer.subarray(end + 2);
      if (this.skippingLine || line.length > this.limits.maxLine) {
        this.skippingLine = false;
        this.clearCommand();
        this.sink.refuse('*', `line too long (the limit is ${this.limits.maxLine} bytes)`);
        continue;
      }
      this.takeLine(line.toString('utf8'));
    }
  }

  private takeLine(line: string): void {
    this.text += line;
    const literal = LITERAL_AT_END.exec(line);
    if (literal === null) {
      const raw = { text: this.text, literals: this.literals };
      this.clearCommand();
      this.sink.command(raw);
      return;
    }
    const size = Number(literal[1]);
    const synchronizing = literal[2] !== '+';
    if (size > this.limits.maxLiteral || this.literalBytes + size > this.limits.maxLiteral || this.text.length > this.limits.maxLine) {
      const tag = /^[^\s]*/.exec(this.text)![0] || '*';
      this.clearCommand();
      if (synchronizing) this.sink.refuse(tag, `[TOOBIG] literal too large (the limit is ${this.limits.maxLiteral} bytes)`);
      else {
        this.stopped = true;
        this.sink.fatal(`non-synchronizing literal too large (the limit is ${this.limits.maxLiteral} bytes)`);
      }
      return;
    }
    this.literalLeft = size;
    this.literalBytes += size;
    if (synchronizing) this.sink.continueLiteral();
  }

  /** Reads the current literal; false when more bytes are needed. */
  private takeLiteral(): boolean {
    const take = Math.min(this.literalLeft, this.buffer.length);
    if (take > 0) this.literalParts.push(this.buffer.subarray(0, take));
    this.buffer = this.buffer.subarray(take);
    this.literalLeft -= take;
    if (this.literalLeft > 0) return false;
    this.literals.push(Buffer.concat(this.literalParts));
    this.literalParts = [];
    this.literalLeft = -1;
    return true;
  }
}
