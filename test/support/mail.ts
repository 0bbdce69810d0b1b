import type { RandomSource } from '../../src/crypto/index.js';

/** A whole RFC 5322 message with every header Umbra must hide, and an attachment of random bytes. */
export interface TestMail {
  readonly headers: Record<string, string>;
  readonly bytes: Uint8Array;
}

export function rfc5322(random: RandomSource, size: number, n = 1): TestMail {
  const headers: Record<string, string> = {
    From: 'Alice <alice@umbra.example>',
    To: 'Bob <bob@umbra.example>',
    Cc: 'Carol <carol@umbra.example>',
    Subject: `Quarterly numbers, draft ${n} (confidential)`,
    Date: 'Sat, 21 Nov 2026 09:00:00 +0000',
    'Message-ID': `<${n}.${toHex(random(8))}@umbra.example>`,
    'MIME-Version': '1.0',
    'Content-Type': 'multipart/mixed; boundary="b1"',
  };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const attachment = base64(random(Math.max(0, Math.floor((size * 3) / 4))));
  const body =
    '\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe figures are attached. — A.\r\n' +
    `--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${attachment}\r\n--b1--\r\n`;
  return { headers, bytes: new TextEncoder().encode(head + body) };
}

/** The header fields of a message (unfolded, first occurrence), as a mail program would read them. */
export function parseHeaders(bytes: Uint8Array): Record<string, string> {
  const text = new TextDecoder().decode(bytes);
  const end = text.indexOf('\r\n\r\n');
  const out: Record<string, string> = {};
  for (const line of text.slice(0, end).split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !(line.slice(0, colon) in out)) out[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/.{76}/g, '$&\r\n');
}
