/**
 * Why the client agent refused something (docs/client.md, "Errors"). Callers and the `umbra client`
 * commands switch on `code`; the message is one line a person can read.
 */
export type ClientErrorCode =
  | 'bad-passphrase' // the passphrase does not open the keystore (or its KDF header was altered)
  | 'corrupt-keystore' // the keystore does not parse or does not authenticate: damaged or tampered
  | 'unsupported-keystore' // a keystore version or KDF this program does not know
  | 'not-initialized' // no keystore in the client directory
  | 'already-initialized' // initClient on a directory that already holds a keystore
  | 'locked' // another live process has the client directory open
  | 'bad-options' // an option out of range (name, passphrase, authority, rates …)
  | 'bad-card' // a card URI that does not parse or verify, or our own card
  | 'unknown-contact' // send to a name or key that is no contact
  | 'ambiguous-contact' // send to a name that several contacts share
  | 'too-large' // a mail beyond the largest message the envelope carries
  | 'unknown-mail' // read(id) of an id not in the store
  | 'no-consensus' // the authority could not be reached or its document does not verify
  | 'no-provider' // none of the card's servers is a provider of the consensus
  | 'unsupported-network' // a consensus whose geometry this client cannot use (no SURBs)
  | 'consensus-refused' // a consensus below the client's minimums, or in another retrieval mode than the agent started with
  | 'consensus-mismatch' // a mirror serves another document than the authority for the same epoch (partition check)
  | 'bucket-limit' // a provider's "too large" would push a bucket fetch beyond maxBuckets
  | 'no-relay' // ordinary email asked for, but no relay is set (relay.ts)
  | 'relay-failed' // the relay could not be reached or refused the mail
  | 'closed'; // the client was closed

export class ClientError extends Error {
  readonly code: ClientErrorCode;
  constructor(code: ClientErrorCode, message: string) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
  }
}

/** A readable one-line description of anything thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
