import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { simpleParser, type AddressObject } from 'mailparser';
import { buildMail, parseMail, syntheticAddress, type MailAddress, type MailDraft } from '../../src/client/index.js';
import { copyFor, resolveRecipients } from '../../src/client/agent/compose.js';
import { splitRecipients } from '../../src/client/bridge/smtp-submission.js';
import { mailStatusOf, MAX_RECIPIENTS, recipientNames, recipientsOf, withRecipientStatus, type SentRecipient } from '../../src/client/sent-recipients.js';
import type { SentMeta, SentStatus } from '../../src/client/mail-store.js';
import type { Contact } from '../../src/e2e/mail-types.js';
import { recipientList } from '../../src/cli/client-print.js';

/**
 * Several recipients, the pure parts: the To, Cc and Bcc headers as written and read back (by the
 * client's own parser and by mailparser, as a mail program reads them), each recipient's copy,
 * resolving and de-duplicating recipient lists, the bridge's split of RCPT TO into To/Cc/Bcc, and
 * the per-recipient delivery status of a Sent row.
 */
const RUNS = { seed: 20261205, numRuns: 150 };

const base: MailDraft = {
  from: { name: 'Alice', address: 'alice@umbra' },
  to: [],
  subject: 's',
  body: 'b',
  dateMs: Date.UTC(2026, 11, 5, 12, 0, 0),
  messageId: '0a1b@umbra',
};

/** Names as contacts have them: any printable text, accents, quotes and commas included. */
const name = fc.oneof(
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9 .'-]{0,20}$/),
  fc.string({ minLength: 1, maxLength: 24 }),
  fc.constantFrom('Zoë Ångström', 'O\'Brien, Pat', '"quoted" name', '李雷', 'a\\b'),
).map((text) => text.replace(/[\u0000-\u001f\u007f]/g, ' ').trim()).filter((text) => text !== '');
const addresses = (max: number) => fc.array(name.map((n): MailAddress => ({ name: n, address: syntheticAddress(n) })), { maxLength: max });

function listOf(header: AddressObject | AddressObject[] | undefined): { name: string; address: string }[] {
  const objects = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return objects.flatMap((object) => object.value.map((entry) => ({ name: entry.name, address: entry.address ?? '' })));
}

describe('recipients', () => {
  test('To, Cc and Bcc headers read back as written, by mailparser and by the client (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(addresses(6), addresses(6), addresses(4), async (to, cc, bcc) => {
        const bytes = buildMail({ ...base, to, cc, bcc });
        const text = new TextDecoder().decode(bytes);
        const head = text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
        assert.ok(head.every((line) => /^[\x20-\x7e]*$/.test(line) && line.length <= 998), 'ASCII header lines within 998 characters');
        const parsed = await simpleParser(Buffer.from(bytes));
        const clean = (list: MailAddress[]) => list.map((a) => ({ name: a.name.trim(), address: a.address }));
        if (to.length === 0 && cc.length === 0) assert.match(text, /^To: undisclosed-recipients:;\r$/m);
        else assert.deepEqual(listOf(parsed.to), clean(to));
        assert.deepEqual(listOf(parsed.cc), clean(cc));
        assert.deepEqual(listOf(parsed.bcc), clean(bcc));
        const own = parseMail(bytes);
        assert.equal(own.cc === '', cc.length === 0);
        assert.equal(own.bcc === '', bcc.length === 0);
        assert.equal(/^Cc:/m.test(text), cc.length > 0, 'no empty Cc header');
        assert.equal(/^Bcc:/m.test(text), bcc.length > 0, 'no empty Bcc header');
      }),
      RUNS,
    );
  });

  test('each recipient\'s copy: To and Cc as written; a Bcc recipient finds only itself in Bcc', () => {
    const contact = (n: string): Contact => ({ card: { name: n } as Contact['card'], key: n.padEnd(64, '0'), senderTag: new Uint8Array(16) });
    const draft: MailDraft = {
      ...base,
      to: [{ name: 'bob', address: 'bob@umbra' }],
      cc: [{ name: 'carol', address: 'carol@umbra' }],
      bcc: [{ name: 'dave', address: 'dave@umbra' }, { name: 'erin', address: 'erin@umbra' }],
    };
    const forBob = buildMail(copyFor(draft, { contact: contact('bob'), field: 'to' }));
    const forCarol = buildMail(copyFor(draft, { contact: contact('carol'), field: 'cc' }));
    const forDave = buildMail(copyFor(draft, { contact: contact('dave'), field: 'bcc' }));
    assert.deepEqual(forBob, forCarol, 'To and Cc recipients read one message');
    assert.doesNotMatch(new TextDecoder().decode(forBob), /dave|erin|Bcc/);
    assert.equal(parseMail(forDave).bcc, 'dave <dave@umbra>');
    assert.doesNotMatch(new TextDecoder().decode(forDave), /erin/);
    assert.equal(parseMail(buildMail(draft)).bcc, 'dave <dave@umbra>, erin <erin@umbra>', 'the sender\'s copy lists every Bcc recipient');
  });

  test('recipient lists: resolved in the order To, Cc, Bcc; a contact named twice keeps its first field; limits', () => {
    const contact = (n: string, key: string): Contact => ({ card: { name: n } as Contact['card'], key, senderTag: new Uint8Array(16) });
    const contacts = [contact('bob', 'b'.repeat(64)), contact('carol', 'c'.repeat(64)), contact('dave', 'd'.repeat(64))];
    const fields = (request: Parameters<typeof resolveRecipients>[1]) => resolveRecipients(contacts, request).map((r) => `${r.field}:${r.contact.card.name}`);
    assert.deepEqual(fields({ to: 'bob' }), ['to:bob']);
    assert.deepEqual(fields({ to: ['Bob', 'bbbbbbbbbb'], cc: ['bob', 'carol'], bcc: ['carol', 'dave'] }), ['to:bob', 'cc:carol', 'bcc:dave']);
    assert.deepEqual(fields({ to: [], bcc: ['dave'] }), ['bcc:dave'], 'a Bcc-only mail');
    const code = (request: Parameters<typeof resolveRecipients>[1]) => {
      try {
        resolveRecipients(contacts, request);
        return 'ok';
      } catch (error) {
        return (error as { code: string }).code;
      }
    };
    assert.equal(code({ to: [] }), 'bad-options');
    assert.equal(code({ to: ['bob'], cc: ['zed'] }), 'unknown-contact');
    assert.equal(code({ to: Array.from({ length: MAX_RECIPIENTS }, () => 'bob') }), 'ok');
    assert.equal(code({ to: Array.from({ length: MAX_RECIPIENTS }, () => 'bob'), bcc: ['dave'] }), 'bad-options');
    assert.equal(code({ to: Array.from({ length: 10_000 }, () => 'bob') }), 'bad-options');
    assert.equal(code({ to: 'bob', cc: 'carol' as unknown as string[] }), 'bad-options');
  });

  test('the bridge: RCPT TO named in To are To, in Cc are Cc, the rest Bcc; duplicates once', () => {
    assert.deepEqual(splitRecipients(['b', 'c', 'd', 'b'], new Set(['b']), new Set(['c'])), { to: ['b'], cc: ['c'], bcc: ['d'] });
    assert.deepEqual(splitRecipients(['b', 'c'], new Set(['b', 'c']), new Set(['c'])), { to: ['b', 'c'], cc: [], bcc: [] });
    assert.deepEqual(splitRecipients(['x'], new Set(), new Set()), { to: [], cc: [], bcc: ['x'] });
  });

  test('the CLI: repeated options and comma lists', () => {
    assert.deepEqual(recipientList(['bob', 'carol, dave', ' ,erin,']), ['bob', 'carol', 'dave', 'erin']);
    assert.deepEqual(recipientList(undefined), []);
  });
});

describe('delivery per recipient', () => {
  const statuses: SentStatus[] = ['queued', 'sending', 'delivered', 'failed'];
  const row = (recipients: SentRecipient[]): SentMeta => ({
    folder: 'sent', messageId: recipients[0].messageId, toKey: recipients[0].key, toName: recipients[0].name, recipients,
    createdMs: 0, status: mailStatusOf(recipients).status, statusMs: 0, subject: 's', size: 1, fragments: 3, attempts: 1,
  });
  const recipient = (i: number, status: SentStatus): SentRecipient => ({
    messageId: `m${i}`, key: `k${i}`, name: `user${i}`, field: i === 0 ? 'to' : 'bcc', status, statusMs: 0, attempts: 1, ...(status === 'failed' ? { reason: `why ${i}` } : {}),
  });

  test('the mail\'s status: delivered when all are, failed once all are final and one failed, else on its way (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...statuses), { minLength: 1, maxLength: 8 }), (list) => {
        const recipients = list.map((status, i) => recipient(i, status));
        const mail = mailStatusOf(recipients);
        const final = list.every((s) => s === 'delivered' || s === 'failed');
        if (list.every((s) => s === 'delivered')) assert.equal(mail.status, 'delivered');
        else if (final) {
          assert.equal(mail.status, 'failed');
          for (const r of recipients.filter((r) => r.status === 'failed')) assert.ok(mail.reason?.includes(r.reason!), 'the reason names every failure');
        } else assert.equal(mail.status, list.includes('sending') ? 'sending' : 'queued');
      }),
      RUNS,
    );
  });

  test('one envelope\'s change touches only its recipient; an unknown envelope changes nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...statuses), { minLength: 1, maxLength: 8 }), fc.nat(), fc.constantFrom(...statuses), (list, pick, status) => {
        const before = row(list.map((s, i) => recipient(i, s)));
        const i = pick % list.length;
        const after = withRecipientStatus(before, `m${i}`, { status, statusMs: 5, attempts: 2, ...(status === 'failed' ? { reason: 'lost' } : {}) });
        const was = recipientsOf(before);
        const now = recipientsOf(after);
        now.forEach((r, j) => (j === i ? assert.equal(r.status, status) : assert.deepEqual(r, was[j])));
        assert.equal(now[i].reason, status === 'failed' ? 'lost' : undefined);
        assert.equal(after.status, mailStatusOf(now).status);
        assert.deepEqual(withRecipientStatus(before, 'unknown', { status, statusMs: 5, attempts: 2 }), before);
      }),
      RUNS,
    );
  });

  test('a row written before there were several recipients is its one To recipient', () => {
    const old: SentMeta = { folder: 'sent', messageId: 'm', toKey: 'k', toName: 'bob', createdMs: 0, status: 'failed', reason: 'lost', statusMs: 1, subject: 's', size: 1, fragments: 1, attempts: 3 };
    assert.deepEqual(recipientsOf(old), [{ messageId: 'm', key: 'k', name: 'bob', field: 'to', status: 'failed', statusMs: 1, attempts: 3, reason: 'lost' }]);
    const delivered = withRecipientStatus({ ...old, status: 'sending', reason: undefined }, 'm', { status: 'delivered', statusMs: 2, attempts: 1 });
    assert.equal(delivered.status, 'delivered');
    assert.equal(delivered.reason, undefined);
    assert.equal(recipientNames(recipientsOf(delivered)), 'bob');
    assert.equal(recipientNames([recipient(0, 'queued'), { ...recipient(1, 'queued'), field: 'cc' }, recipient(2, 'queued')]), 'user0, user1 (cc), user2 (bcc)');
  });
});
