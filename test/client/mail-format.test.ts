import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildMail, formatAddress, formatDate, parseMail, syntheticAddress } from '../../src/client/index.js';

/** RFC 5322 / MIME writing and reading: what the client sends is what the recipient's inbox shows. */
const decoder = new TextDecoder();
const base = {
  from: { name: 'Alice', address: 'alice@umbra' },
  to: [{ name: 'Bob', address: 'bob@umbra' }],
  subject: 'Quarterly numbers',
  body: 'Hello Bob,\nthe figures are attached.\n-- A.',
  dateMs: Date.UTC(2026, 10, 21, 9, 0, 0),
  messageId: '0123abcd@umbra',
};

function headerBlock(bytes: Uint8Array): string[] {
  const text = decoder.decode(bytes);
  return text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
}

describe('mail format', () => {
  test('headers: From, To, Subject, Date, Message-ID, MIME; CRLF line ends; a plain 7bit body', () => {
    const bytes = buildMail(base);
    const text = decoder.decode(bytes);
    assert.deepEqual(headerBlock(bytes), [
      'From: Alice <alice@umbra>',
      'To: Bob <bob@umbra>',
      'Subject: Quarterly numbers',
      'Date: Sat, 21 Nov 2026 09:00:00 +0000',
      'Message-ID: <0123abcd@umbra>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 7bit',
    ]);
    assert.ok(text.endsWith('\r\n\r\nHello Bob,\r\nthe figures are attached.\r\n-- A.\r\n'));
    assert.doesNotMatch(text.replace(/\r\n/g, ''), /[\r\n]/, 'no bare CR or LF');
    const parsed = parseMail(bytes);
    assert.equal(parsed.from, 'Alice <alice@umbra>');
    assert.equal(parsed.to, 'Bob <bob@umbra>');
    assert.equal(parsed.subject, 'Quarterly numbers');
    assert.equal(parsed.date, 'Sat, 21 Nov 2026 09:00:00 +0000');
    assert.equal(parsed.messageId, '0123abcd@umbra');
    assert.equal(parsed.text, 'Hello Bob,\nthe figures are attached.\n-- A.\n');
    assert.deepEqual(parsed.attachments, []);
  });

  test('non-ASCII names, subject and body: encoded words and base64, decoded back', () => {
    const mail = {
      ...base,
      from: { name: 'Zoë Ångström', address: syntheticAddress('Zoë Ångström') },
      subject: 'Grüße — ein sehr langer Betreff, der über mehrere kodierte Wörter verteilt werden muss 🎉',
      body: 'Schöne Grüße\nZoë',
    };
    const bytes = buildMail(mail);
    const head = headerBlock(bytes);
    assert.ok(head.every((line) => /^[\x20-\x7e]*$/.test(line)), 'headers are ASCII');
    assert.ok(head.every((line) => line.length <= 78), 'header lines within 78 characters');
    assert.match(head[0], /^From: =\?UTF-8\?B\?[^ ]+\?= <zoe-angstrom@umbra>$/);
    const parsed = parseMail(bytes);
    assert.equal(parsed.subject, mail.subject);
    assert.equal(parsed.from, 'Zoë Ångström <zoe-angstrom@umbra>');
    assert.equal(parsed.text, 'Schöne Grüße\nZoë\n');
  });

  test('attachments: multipart/mixed, base64 in 76-character lines, file names, bytes back exactly', () => {
    const binary = new Uint8Array(5000).map((_, i) => (i * 37 + 11) & 0xff);
    const bytes = buildMail({
      ...base,
      boundary: 'umbra-0011223344',
      attachments: [
        { filename: 'figures.pdf', contentType: 'application/pdf', data: binary },
        { filename: 'Übersicht 2026.txt', contentType: 'text/plain', data: new TextEncoder().encode('a,b\n1,2\n') },
        { filename: 'x"y\r\nBcc: eve@example.org', contentType: 'bogus type', data: new Uint8Array([1, 2, 3]) },
      ],
    });
    const text = decoder.decode(bytes);
    assert.ok(headerBlock(bytes).includes('Content-Type: multipart/mixed; boundary="umbra-0011223344"'));
    assert.match(text, /\r\n--umbra-0011223344\r\nContent-Type: application\/pdf; name="figures.pdf"\r\nContent-Disposition: attachment; filename="figures.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n/);
    assert.match(text, /filename\*=UTF-8''%C3%9Cbersicht%202026\.txt/);
    assert.match(text, /--umbra-0011223344--\r\n$/);
    // Every base64 line of the PDF is 76 characters except the last.
    const pdf = text.split('Content-Transfer-Encoding: base64\r\n\r\n')[1].split('\r\n--')[0].split('\r\n');
    assert.ok(pdf.slice(0, -1).every((line) => line.length === 76));
    // No header injection from a file name.
    assert.doesNotMatch(text, /\r\nBcc:/);

    const parsed = parseMail(bytes);
    assert.equal(parsed.text, 'Hello Bob,\nthe figures are attached.\n-- A.\n');
    assert.equal(parsed.attachments.length, 3);
    assert.deepEqual(parsed.attachments[0], { filename: 'figures.pdf', contentType: 'application/pdf', data: binary });
    assert.equal(parsed.attachments[1].filename, 'Übersicht 2026.txt');
    assert.equal(decoder.decode(parsed.attachments[1].data), 'a,b\n1,2\n');
    assert.equal(parsed.attachments[2].contentType, 'application/octet-stream');
    assert.deepEqual(parsed.attachments[2].data, new Uint8Array([1, 2, 3]));
  });

  test('a subject with line breaks cannot add headers', () => {
    const bytes = buildMail({ ...base, subject: 'hi\r\nBcc: eve@example.org\nX: y' });
    const head = headerBlock(bytes);
    assert.equal(head.filter((line) => line.startsWith('Bcc')).length, 0);
    assert.equal(parseMail(bytes).subject, 'hi Bcc: eve@example.org X: y');
  });

  test('reading what other mail programs write: folded headers, Q words, quoted-printable, nested multipart', () => {
    const raw = [
      'From: =?iso-8859-1?Q?Andr=E9?= <andre@example.org>',
      'To: bob@example.org',
      'Subject: =?UTF-8?Q?caf=C3=A9?=',
      '  =?UTF-8?B?IGF1IGxhaXQ=?=',
      'Content-Type: multipart/mixed; boundary=outer',
      '',
      'preamble',
      '--outer',
      'Content-Type: multipart/alternative; boundary="inner"',
      '',
      '--inner',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>html</p>',
      '--inner',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Caf=C3=A9 soft=',
      'break',
      '--inner--',
      '--outer',
      'Content-Type: application/octet-stream; name*0="long-";',
      ' name*1="name.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      'AAEC',
      '--outer--',
      '',
    ].join('\r\n');
    const parsed = parseMail(new TextEncoder().encode(raw));
    assert.equal(parsed.from, 'André <andre@example.org>');
    assert.equal(parsed.subject, 'café au lait');
    assert.equal(parsed.text, 'Café softbreak');
    assert.deepEqual(parsed.attachments, [{ filename: 'long-name.bin', contentType: 'application/octet-stream', data: new Uint8Array([0, 1, 2]) }]);
  });

  test('garbage parses without throwing', () => {
    for (const input of [new Uint8Array(0), new Uint8Array([0xff, 0xfe, 0, 1]), new TextEncoder().encode('no headers at all'),
      new TextEncoder().encode('Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\n--x--'),
      new TextEncoder().encode('Content-Type: multipart/mixed; boundary=x\r\n\r\n' + '--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n'.repeat(50))]) {
      const parsed = parseMail(input);
      assert.equal(typeof parsed.text, 'string');
    }
  });

  test('addresses and dates', () => {
    assert.equal(syntheticAddress('Bob'), 'bob@umbra');
    assert.equal(syntheticAddress('  Dr. Jane  O\'Neil '), 'dr.-jane-o-neil@umbra');
    assert.equal(syntheticAddress('张伟'), 'user@umbra');
    assert.equal(formatAddress({ name: 'Smith, John', address: 'john@umbra' }), '"Smith, John" <john@umbra>');
    assert.equal(formatAddress({ name: 'A "B" C', address: 'a@umbra' }), '"A \\"B\\" C" <a@umbra>');
    assert.equal(formatDate(0), 'Thu, 01 Jan 1970 00:00:00 +0000');
  });
});
