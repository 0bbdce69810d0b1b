import type { RawCommand } from './reader.js';

/**
 * The arguments of an IMAP command as tokens (RFC 3501 section 9): atoms (flags, numbers, sequence
 * sets, fetch items such as `BODY.PEEK[HEADER.FIELDS (FROM)]<0.100>` kept whole), strings (quoted
 * or literal, with a literal's bytes), parenthesised lists and NIL.
 */
export type Token =
  | { readonly kind: 'atom'; readonly value: string }
  | { readonly kind: 'string'; readonly value: string; readonly bytes?: Buffer }
  | { readonly kind: 'list'; readonly items: readonly Token[] }
  | { readonly kind: 'nil' };

export interface Command {
  readonly tag: string;
  /** Upper case. */
  readonly name: string;
  readonly args: readonly Token[];
}

export class ParseError extends Error {
  constructor(message: string, readonly tag = '*') {
    super(message);
  }
}

const MAX_DEPTH = 16;
const MAX_TOKENS = 10_000;
const TAG = /^[\x21-\x7e]+$/;

export function parseCommand(raw: RawCommand): Command {
  const parser = new Tokenizer(raw);
  const tagToken = parser.next(0);
  if (tagToken?.kind !== 'atom' || !TAG.test(tagToken.value) || /[+(){%*"\\]/.test(tagToken.value)) throw new ParseError('a command begins with a tag');
  const tag = tagToken.value;
  const nameToken = parser.next(0);
  if (nameToken?.kind !== 'atom' || !/^[A-Za-z]+$/.test(nameToken.value)) throw new ParseError('a command name follows the tag', tag);
  try {
    const args: Token[] = [];
    for (let token = parser.next(0); token !== undefined; token = parser.next(0)) args.push(token);
    return { tag, name: nameToken.value.toUpperCase(), args };
  } catch (error) {
    if (error instanceof ParseError) throw new ParseError(error.message, tag);
    throw error;
  }
}

class Tokenizer {
  private pos = 0;
  private literal = 0;
  private count = 0;

  constructor(private readonly raw: RawCommand) {}

  private get text(): string {
    return this.raw.text;
  }

  /** The next token, undefined at the end; `depth` > 0 inside a list (ends at ')'). */
  next(depth: number): Token | undefined {
    if (++this.count > MAX_TOKENS) throw new ParseError('too many arguments');
    const { text } = this;
    if (this.pos < text.length && this.pos > 0 && depth === 0) {
      if (text[this.pos] !== ' ') throw new ParseError('arguments are separated by one space');
      this.pos++;
    }
    if (this.pos >= text.length) return undefined;
    const c = text[this.pos];
    if (c === '(') return this.list(depth + 1);
    if (c === '"') return this.quoted();
    if (c === '{') return this.literalToken();
    if (c === ' ' || c === ')') throw new ParseError('unexpected character');
    return this.atom();
  }

  private list(depth: number): Token {
    if (depth > MAX_DEPTH) throw new ParseError('lists nested too deep');
    this.pos++; // (
    const items: Token[] = [];
    for (;;) {
      if (this.pos >= this.text.length) throw new ParseError('unterminated list');
      if (this.text[this.pos] === ')') {
        this.pos++;
        return { kind: 'list', items };
      }
      if (items.length > 0) {
        if (this.text[this.pos] !== ' ') throw new ParseError('list items are separated by one space');
        this.pos++;
      }
      const c = this.text[this.pos];
      if (c === '(') items.push(this.list(depth + 1));
      else if (c === '"') items.push(this.quoted());
      else if (c === '{') items.push(this.literalToken());
      else if (c === ' ' || c === ')' || c === undefined) throw new ParseError('unexpected character in a list');
      else items.push(this.atom());
      if (++this.count > MAX_TOKENS) throw new ParseError('too many arguments');
    }
  }

  private quoted(): Token {
    let value = '';
    for (let i = this.pos + 1; i < this.text.length; i++) {
      const c = this.text[i];
      if (c === '\\') {
        const escaped = this.text[i + 1];
        if (escaped !== '\\' && escaped !== '"') throw new ParseError('bad escape in a quoted string');
        value += escaped;
        i++;
      } else if (c === '"') {
        this.pos = i + 1;
        return { kind: 'string', value };
      } else value += c;
    }
    throw new ParseError('unterminated quoted string');
  }

  private literalToken(): Token {
    const match = /^\{(\d+)\+?\}/.exec(this.text.slice(this.pos, this.pos + 24));
    const bytes = this.raw.literals[this.literal];
    if (match === null || bytes === undefined || bytes.length !== Number(match[1])) throw new ParseError('bad literal');
    this.literal++;
    this.pos += match[0].length;
    return { kind: 'string', value: bytes.toString('utf8'), bytes };
  }

  /** An atom; brackets (a fetch section) may hold spaces and lists, and a `<partial>` may follow. */
  private atom(): Token {
    const { text } = this;
    const start = this.pos;
    let brackets = 0;
    while (this.pos < text.length) {
      const c = text[this.pos];
      if (c === '[') brackets++;
      else if (c === ']') {
        if (brackets === 0) break;
        brackets--;
      } else if (brackets === 0 && (c === ' ' || c === '(' || c === ')' || c === '"' || c === '{')) break;
      else if (c < ' ' || c === '\u007f') throw new ParseError('control character in an atom');
      this.pos++;
    }
    if (brackets !== 0) throw new ParseError('unterminated [ in an atom');
    if (text[this.pos] === ']') throw new ParseError('unexpected ]');
    const value = text.slice(start, this.pos);
    if (value.toUpperCase() === 'NIL') return { kind: 'nil' };
    return { kind: 'atom', value };
  }
}

/** The text of an atom or string argument, undefined for anything else. */
export function textOf(token: Token | undefined): string | undefined {
  if (token === undefined) return undefined;
  if (token.kind === 'atom' || token.kind === 'string') return token.value;
  return undefined;
}
