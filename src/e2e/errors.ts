/**
 * Why the end-to-end layer refused something. Codes, not messages, are what callers and tests
 * check; nothing about the refused content is reported.
 */
export type E2eErrorCode =
  | 'bad-card' // a contact card that does not parse or whose signature does not verify
  | 'bad-uri' // not an umbra: card URI
  | 'not-for-me' // a sealed box or fragment that does not open with this identity's key
  | 'bad-message' // an envelope or ratchet message that does not parse or authenticate
  | 'sender-mismatch' // a first contact whose authenticated key differs from the enclosed card
  | 'replay' // a message (or first contact) already received
  | 'too-many-skipped' // a ratchet message that would skip more message keys than allowed
  | 'unknown-session' // a ratchet message that opens with no session's header key
  | 'bad-fragment' // a fragment that does not parse after opening
  | 'too-large' // a message beyond the largest size class
  | 'limit-exceeded' // a reassembly bound (per message, per sender, in all) was hit
  | 'too-few-fragments' // fewer fragments than needed to rebuild a message
  | 'bad-ack' // an acknowledgement that does not parse
  | 'bad-state'; // a stored session or identity that does not parse

export class E2eError extends Error {
  readonly code: E2eErrorCode;
  constructor(code: E2eErrorCode, message: string) {
    super(`e2e: ${message}`);
    this.name = 'E2eError';
    this.code = code;
  }
}
