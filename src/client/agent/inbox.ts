import { concatBytes, hexOf } from '../../codec/bytes.js';
import { E2eError } from '../../e2e/errors.js';
import type { OpenedFragment } from '../../e2e/fragment.js';
import { PartialMessages } from '../../traffic/nack-policy.js';
import type { ClientCore } from '../directory.js';
import { parseMail } from '../mail-format.js';
import type { StoredItem } from '../../wire/retrieval.js';
import type { NetworkView } from './network-view.js';
import type { ReplyQueue } from './replies.js';
import type { Emit } from './types.js';

const MAX_PROCESSED_PER_EPOCH = 65_536;

/**
 * Mail arriving (docs/client.md, "Receiving"): each fragment found in the mailbox is opened, fed
 * to reassembly, and a complete message goes into the mail store and is acknowledged through the
 * SURB sealed inside its fragment. Stalled partial messages are NACKed (src/traffic/nack-policy.ts).
 */
export class Inbox {
  private readonly partial = new PartialMessages<Uint8Array>();
  /** Digests of the stored items already handled, per epoch (a re-fetch skips them). */
  private readonly processed = new Map<number, Set<string>>();
  /** The poll in which each message was last ACKed: once per poll. */
  private readonly ackedInPoll = new Map<string, number>();

  constructor(
    private readonly core: ClientCore,
    private readonly view: NetworkView,
    private readonly replies: ReplyQueue,
    private readonly emit: Emit,
  ) {}

  /** True the first time a stored ciphertext is seen in an epoch. */
  firstSight(epoch: number, item: StoredItem): boolean {
    const digest = hexOf(this.core.crypto.blake2b(16, concatBytes(item.address, item.ciphertext)));
    let seen = this.processed.get(epoch);
    if (seen === undefined) {
      seen = new Set();
      this.processed.set(epoch, seen);
    }
    if (seen.has(digest)) return false;
    seen.add(digest);
    if (seen.size > MAX_PROCESSED_PER_EPOCH) seen.delete(seen.values().next().value as string);
    return true;
  }

  /**
   * A stored item's payload from the mailbox, fetched under the user's address of `_addressEpoch`
   * in poll `poll`: 'received' when it is a fragment for this user that completed a mail. The
   * fragment's ACK SURB is inside it, sealed with the epoch it was made in: the one its reply may
   * ride in (it equals the address's epoch; the SURB's own is the one used).
   */
  receive(payload: Uint8Array, _addressEpoch: number, now: number, poll: number): 'received' | 'other' {
    const endpoint = this.core.endpoint;
    if (payload.length !== this.view.sphinx.geometry.payloadLength || payload.length !== endpoint.params.fragmentLength) return 'other';
    let opened: OpenedFragment;
    try {
      opened = endpoint.open(payload);
    } catch (error) {
      if (error instanceof E2eError) return 'other'; // not for this user, or damaged
      throw error;
    }
    const { messageId, surb } = opened;
    if (surb === undefined) return 'other';
    const key = hexOf(messageId);
    if (this.core.store.hasInbox(messageId)) {
      // A copy of a message we have: its ACK was lost or is late; answer once per poll.
      this.ackOnce(key, messageId, surb.bytes, surb.epoch, poll);
      return 'other';
    }
    let delivery;
    try {
      delivery = endpoint.receiveOpened(opened, now);
    } catch (error) {
      if (error instanceof E2eError) return 'other';
      throw error;
    }
    if (delivery.status === 'delivered') {
      this.store(key, messageId, delivery.mail, delivery.from, delivery.newContact, now);
      this.partial.complete(key);
      this.ackOnce(key, messageId, surb.bytes, surb.epoch, poll);
      return 'received';
    }
    if (delivery.status === 'already-complete') {
      this.ackOnce(key, messageId, surb.bytes, surb.epoch, poll);
      return 'other';
    }
    this.partial.saw(key, messageId, surb.bytes.slice(), surb.epoch, poll, delivery.status === 'pending');
    return 'other';
  }

  private store(key: string, messageId: Uint8Array, mail: Uint8Array, from: { name: string; x25519Public: Uint8Array }, newContact: boolean, now: number): void {
    const parsed = parseMail(mail);
    const fromKey = hexOf(from.x25519Public);
    const id = this.core.store.addInbox(
      {
        messageId: key, fromKey, fromName: from.name, receivedMs: now, read: false,
        subject: parsed.subject, date: parsed.date, size: mail.length, attachments: parsed.attachments.length,
      },
      messageId,
      mail,
    );
    if (id !== undefined) this.emit({ type: 'received', id, number: this.core.store.numberOf(id) ?? 0, from: from.name, fromKey, subject: parsed.subject, newContact });
  }

  private ackOnce(key: string, messageId: Uint8Array, surb: Uint8Array, surbEpoch: number, poll: number): void {
    if (this.ackedInPoll.get(key) === poll) return;
    this.ackedInPoll.set(key, poll);
    if (this.ackedInPoll.size > 1024) this.ackedInPoll.delete(this.ackedInPoll.keys().next().value as string);
    this.replies.add(surb, { messageId, kind: 'ack', missing: [] }, surbEpoch);
  }

  /** After poll `poll` in `epoch`: NACKs for stalled partial messages; what is too old is forgotten. */
  afterPoll(poll: number, epoch: number): void {
    const due = this.partial.due(poll, epoch, (messageId) => {
      const ack = this.core.endpoint.acknowledgement(messageId);
      return ack.kind === 'nack' && ack.missing.length > 0 ? ack : undefined;
    });
    for (const { surb, epoch: surbEpoch, nack } of due) this.replies.add(surb, nack, surbEpoch);
    for (const e of this.processed.keys()) if (e < epoch - 1) this.processed.delete(e);
  }
}
