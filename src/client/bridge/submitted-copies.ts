/**
 * Mail programs save a copy of what they send in the Sent folder with IMAP APPEND, right after the
 * SMTP submission (Thunderbird, Apple Mail, Outlook, mutt all do by default). The agent files every
 * mail it sends in Sent already, so without care each sent mail shows twice. The SMTP side remembers
 * the Message-ID each submitted message came with; an APPEND to Sent of a message with that
 * Message-ID is the program's copy of a mail the agent has filed, and is answered with the filed
 * mail's UID instead of storing a second copy (docs/bridge.md, "Sent mail").
 *
 * Kept in memory only, for an hour and at most 256 submissions: a copy appended later, or after
 * the agent restarted, is stored as any other APPEND.
 */
const KEEP_MS = 60 * 60 * 1000;
const MAX_KEPT = 256;
/** A Message-ID header longer than this is not one a mail program wrote (RFC 5322 lines are at most 998). */
const MAX_ID_LENGTH = 998;
/** How far into a message its header block is searched for the Message-ID. */
const MAX_HEADER_SCAN = 64 * 1024;

export class SubmittedCopies {
  /** Message-ID (as written, without angle brackets' surrounding space) → the sent mail's id and when. */
  private readonly kept = new Map<string, { readonly mailId: number; readonly atMs: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A submitted message with this Message-ID was queued as sent mail `mailId`. */
  remember(messageId: string | undefined, mailId: number): void {
    const key = normaliseMessageId(messageId);
    if (key === undefined) return;
    this.expire();
    this.kept.delete(key);
    this.kept.set(key, { mailId, atMs: this.now() });
    while (this.kept.size > MAX_KEPT) this.kept.delete(this.kept.keys().next().value!);
  }

  /** The sent mail an appended message is the program's copy of (once: the entry is used up), or undefined. */
  take(raw: Uint8Array): number | undefined {
    this.expire();
    const key = normaliseMessageId(messageIdOf(raw));
    if (key === undefined) return undefined;
    const found = this.kept.get(key);
    if (found === undefined) return undefined;
    this.kept.delete(key);
    return found.mailId;
  }

  private expire(): void {
    const oldest = this.now() - KEEP_MS;
    for (const [key, entry] of this.kept) {
      if (entry.atMs >= oldest) break; // kept in insertion order, so the rest are newer
      this.kept.delete(key);
    }
  }
}

function normaliseMessageId(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  if (trimmed === undefined || trimmed.length === 0 || trimmed.length > MAX_ID_LENGTH) return undefined;
  return trimmed.startsWith('<') ? trimmed : `<${trimmed}>`;
}

/** The Message-ID header of a raw RFC 5322 message (folded lines unfolded), or undefined. */
export function messageIdOf(raw: Uint8Array): string | undefined {
  const head = Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.length, MAX_HEADER_SCAN)).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  const block = (end < 0 ? head : head.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const match = /^message-id:[ \t]*(.*)$/im.exec(block);
  return match?.[1]?.trim();
}
