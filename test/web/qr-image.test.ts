import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import qrcode from 'qrcode-generator';
import { repoRoot } from '../support/vectors.js';
import { chromiumMissing, launchChromium, startRemoteServer, type RemoteServer } from './support.js';

/**
 * The web client's QR code reader (web/client/qr-image.ts, the same code and jsQR as the page) in
 * chromium, on pictures drawn in the page: a large photo-like JPEG (a small, slightly turned code
 * on a noisy background, found only by the second search, at full size), a light code on a dark
 * screen, and the pictures it refuses with a clear reason: too large, not an image, not
 * decodable, no code, a code that is no card, too many pixels. The noise comes from a seeded generator.
 */
const CARD = `umbra:card:${Buffer.from(Array.from({ length: 240 }, (_, i) => (i * 73 + 19) % 256)).toString('base64url')}`;

interface Drawing {
  /** Rows of the code, '1' for a dark module. */
  modules: string[];
  width: number;
  height: number;
  /** Pixels per module. */
  cell: number;
  /** Radians the code is turned by. */
  turn: number;
  inverted: boolean;
  /** Seed of the background noise. */
  seed: number;
  type: 'image/jpeg' | 'image/png';
}

function modulesOf(text: string): string[] {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const count = qr.getModuleCount();
  return Array.from({ length: count }, (_, r) => Array.from({ length: count }, (_, c) => (qr.isDark(r, c) ? '1' : '0')).join(''));
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A white PNG of `width` × `height` (1 bit grey): a few KiB however many pixels it has. */
function blankPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([1, 0, 0, 0, 0], 8); // bit depth 1, grey, deflate, no filter method, no interlace
  const row = Buffer.alloc(1 + Math.ceil(width / 8), 0xff);
  row[0] = 0; // filter: none
  const rows = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

type Outcome = { card: string } | { problem: string; message: string } | { text: string | null };

interface Reader {
  readCardFromImage(blob: Blob, name: string): Promise<string>;
  findQrText(bitmap: ImageBitmap, sides: number[]): Promise<string | undefined>;
}

/**
 * Draws the picture in the page, then reads it with the page's reader; with `sides`, only searches
 * it for a code at those sizes (the reader's inner step).
 */
async function readDrawing(page: Page, drawing: Drawing, sides?: number[]): Promise<Outcome> {
  return page.evaluate(async ({ d, sides }) => {
    const canvas = document.createElement('canvas');
    canvas.width = d.width;
    canvas.height = d.height;
    const context = canvas.getContext('2d')!;
    let seed = d.seed;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const [light, dark] = d.inverted ? ['#1c1c1c', '#e8e8e8'] : ['#f4f1ea', '#202020'];
    context.fillStyle = d.inverted ? '#303030' : '#b9b4aa';
    context.fillRect(0, 0, d.width, d.height);
    for (let i = 0; i < 1500; i++) {
      context.fillStyle = `rgba(${Math.floor(random() * 255)},${Math.floor(random() * 255)},${Math.floor(random() * 255)},0.35)`;
      context.fillRect(random() * d.width, random() * d.height, random() * 40, random() * 40);
    }
    const side = (d.modules.length + 8) * d.cell;
    context.translate(d.width / 2, d.height / 2);
    context.rotate(d.turn);
    context.translate(-side / 2, -side / 2);
    context.fillStyle = light;
    context.fillRect(0, 0, side, side);
    context.fillStyle = dark;
    d.modules.forEach((row, r) => [...row].forEach((bit, c) => bit === '1' && context.fillRect((c + 4) * d.cell, (r + 4) * d.cell, d.cell, d.cell)));
    const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), d.type, 0.85));
    const reader = (window as unknown as { umbraQrImage: Reader }).umbraQrImage;
    if (sides !== undefined) return { text: (await reader.findQrText(await createImageBitmap(blob), sides)) ?? null };
    try {
      return { card: await reader.readCardFromImage(blob, 'photo') };
    } catch (error) {
      return { problem: (error as { problem: string }).problem, message: (error as Error).message };
    }
  }, { d: drawing, sides });
}

/** Reads a file of `bytes` (base64), padded with zeros to `size` bytes, as a picture of type `type`. */
async function readBytes(page: Page, bytes: Uint8Array, type: string, size = bytes.length): Promise<Outcome> {
  return page.evaluate(async ({ base64, type, size }) => {
    const reader = (window as unknown as { umbraQrImage: Reader }).umbraQrImage;
    const data = new Uint8Array(size);
    data.set(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    try {
      return { card: await reader.readCardFromImage(new Blob([data], { type }), 'file.bin') };
    } catch (error) {
      return { problem: (error as { problem: string }).problem, message: (error as Error).message };
    }
  }, { base64: Buffer.from(bytes).toString('base64'), type, size });
}

describe('reading a card from a picture of its QR code, in chromium', { skip: chromiumMissing() }, () => {
  let browser: Browser;
  let remote: RemoteServer;
  let page: Page;

  before(async () => {
    [browser, remote] = await Promise.all([launchChromium(), startRemoteServer()]);
    page = await browser.newPage();
    await page.goto(`${remote.origin}/blank`);
    await page.addScriptTag({ path: join(repoRoot, 'dist', 'web', 'test', 'qr-image.js') });
  });

  after(async () => {
    await browser?.close();
    await remote?.close();
  });

  test('a large photo-like JPEG with a small, turned code yields the card', async () => {
    const modules = modulesOf(CARD);
    const photo = { modules, width: 2000, height: 1500, cell: 3, turn: 0.08, inverted: false, seed: 7, type: 'image/jpeg' } as const;
    assert.deepEqual(await readDrawing(page, photo), { card: CARD });
    // The control: scaled down to the first search's size alone, the code is too fine to read.
    assert.deepEqual(await readDrawing(page, photo, [1200]), { text: null });
  });

  test('a light code on a dark screen yields the card', async () => {
    const dark = { modules: modulesOf(CARD), width: 900, height: 700, cell: 6, turn: 0, inverted: true, seed: 11, type: 'image/png' } as const;
    assert.deepEqual(await readDrawing(page, dark), { card: CARD });
  });

  test('pictures without a card are refused, each with its reason', async () => {
    const noCode = await readDrawing(page, { modules: [], width: 640, height: 480, cell: 4, turn: 0, inverted: false, seed: 3, type: 'image/png' });
    assert.deepEqual(noCode, { problem: 'no-qr-code', message: 'No QR code found in photo: use a sharp photo or a screenshot that shows the whole code.' });
    const link = await readDrawing(page, { modules: modulesOf('https://example.org/'), width: 400, height: 400, cell: 6, turn: 0, inverted: false, seed: 5, type: 'image/png' });
    assert.equal('problem' in link && link.problem, 'not-a-card');
    const big = await readBytes(page, new Uint8Array(0), 'image/png', 8 * 1024 * 1024 + 1);
    assert.equal('problem' in big && big.problem, 'too-large');
    assert.match('message' in big ? big.message : '', /larger than 8 MiB/);
    const huge = blankPng(8000, 6400);
    assert.ok(huge.length < 100_000, `${huge.length} bytes`);
    const tooManyPixels = await readBytes(page, huge, 'image/png');
    assert.equal('problem' in tooManyPixels && tooManyPixels.problem, 'too-large');
    assert.match('message' in tooManyPixels ? tooManyPixels.message : '', /more than 50 million pixels/);
    // The control: the same blank picture at a readable size is searched, and holds no code.
    const blank = await readBytes(page, blankPng(800, 640), 'image/png');
    assert.equal('problem' in blank && blank.problem, 'no-qr-code');
    const text = await readBytes(page, new TextEncoder().encode(CARD), 'text/plain');
    assert.equal('problem' in text && text.problem, 'not-an-image');
    const broken = await readBytes(page, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]), 'image/png');
    assert.equal('problem' in broken && broken.problem, 'unreadable');
  });
});
