import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import qrcode from 'qrcode-generator';
import { fromBase64Url } from '../../src/codec/bytes.js';
import { initClient, removeApiEndpoint, startApiServer, startClient, writeApiEndpoint, type ApiServer, type ClientAgent } from '../../src/client/index.js';
import { up, type Testnet } from '../../src/testnet/up.js';
import { FAST_KDF, TEST_NETWORK_POLICY } from '../client/support.js';
import { chromiumMissing, launchChromium, screenshot } from './support.js';

/**
 * The web client and the network view in chromium, against `umbra up` (real node processes on
 * loopback): two users who do not know each other exchange cards in their browsers, one by URI and
 * one by a screenshot of the other's QR code, and compare safety numbers; Alice writes to Bob in her browser and Bob's browser shows the mail
 * arrive; the network view shows packets flowing through every node. The token never appears in
 * a URL. Each page is saved as a screenshot (UMBRA_UPDATE_SCREENSHOTS=1 refreshes docs/screenshots).
 * Waits are on what the pages show, with real-time limits that only end a stuck test.
 */
const EPOCH_MS = 4_000;
const ARRIVAL_LIMIT_MS = 40_000;

interface User {
  readonly name: string;
  readonly dir: string;
  agent: ClientAgent;
  api: ApiServer;
  context: BrowserContext;
  page: Page;
  /** Every URL the user's browser asked for, and whether API calls carried the token in a header. */
  readonly urls: string[];
  readonly headerless: string[];
}

let dir: string;
let net: Testnet;
let browser: Browser;
const users: User[] = [];

async function startUser(name: string, provider: string): Promise<User> {
  // Where `umbra up` keeps its users: the network view looks there for running agents.
  const userDir = join(net.dir, 'users', name);
  const node = net.file.nodes.find((n) => n.name === provider);
  await initClient(userDir, {
    name, passphrase: `${name} pass`, kdf: FAST_KDF, ...TEST_NETWORK_POLICY, pollsPerEpoch: 4,
    authority: { url: net.authorityUrl, publicKeys: net.authorities.map((a) => fromBase64Url(a.publicKey, 'authority key', 32)) },
    servers: [node!.wsUrl!.replace(/^wss:\/\//, '')],
  });
  const agent = await startClient(userDir, `${name} pass`);
  const api = await startApiServer({ agent, token: agent.apiToken() });
  // As `umbra client run` does: the network view finds running agents by it (loop round trips).
  writeApiEndpoint(userDir, { url: api.url, token: agent.apiToken(), pid: process.pid });
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const user: User = { name, dir: userDir, agent, api, context, page: await context.newPage(), urls: [], headerless: [] };
  context.on('request', (request) => {
    user.urls.push(request.url());
    if (request.url().includes('/api/v1/') && !/^Bearer \S+$/.test(request.headers().authorization ?? '')) user.headerless.push(request.url());
  });
  return user;
}

/** A GIF of a QR code holding `text`, as qrcode-generator draws it (a data URL). */
function qrGif(text: string): Buffer {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  return Buffer.from(qr.createDataURL(6, 4).replace(/^data:image\/gif;base64,/, ''), 'base64');
}

/** Hands `bytes` to the page as a file the user dropped on, or pasted into, `selector`. */
async function dropOrPaste(page: Page, selector: string, how: 'drop' | 'paste', file: { name: string; type: string; bytes: Buffer }): Promise<void> {
  await page.evaluate(({ selector, how, name, type, base64 }) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], name, { type }));
    const target = document.querySelector(selector)!;
    target.dispatchEvent(how === 'drop'
      ? new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true })
      : new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
  }, { selector, how, name: file.name, type: file.type, base64: file.bytes.toString('base64') });
}

async function signIn(user: User): Promise<void> {
  await user.page.goto(`${user.api.url}/`);
  await user.page.fill('#token', user.agent.apiToken());
  await user.page.click('button[type=submit]');
  await user.page.waitForSelector('#folder-title');
}

describe('the web client and the network view in chromium', { skip: chromiumMissing() }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'umbra-web-'));
    [net, browser] = await Promise.all([up({ dir: join(dir, 'net'), epochMs: EPOCH_MS, parameters: 'fast' }), launchChromium()]);
    users.push(...(await Promise.all([startUser('alice', 'provider-1'), startUser('bob', 'provider-2')])));
  });

  after(async () => {
    await browser?.close();
    for (const user of users) {
      removeApiEndpoint(user.dir, process.pid);
      await user.api.close();
      await user.agent.close().catch(() => undefined);
    }
    await net?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('each user connects with the token, which stays out of every URL', async () => {
    await Promise.all(users.map(signIn));
    const [alice] = users;
    await screenshot(alice.page, 'inbox-empty');
    assert.equal(await alice.page.evaluate(() => document.cookie), '');
  });

  test('contacts are exchanged by card URI and by a picture of the QR code, and their safety numbers match side by side', async () => {
    const [alice, bob] = users;
    const cards = new Map<string, string>();
    for (const user of users) {
      await user.page.goto(`${user.api.url}/#contacts`);
      await user.page.waitForSelector('#own-card');
      await user.page.waitForSelector('svg.qr path');
      cards.set(user.name, await user.page.inputValue('#own-card'));
      assert.match(cards.get(user.name)!, /^umbra:card:/);
    }
    // Pictures that hold no card: a screenshot without a QR code (pasted), a QR code of a web address (dropped).
    const noCode = await bob.page.locator('#contacts-title').screenshot();
    await dropOrPaste(alice.page, 'body', 'paste', { name: 'heading.png', type: 'image/png', bytes: noCode });
    await alice.page.waitForSelector('.error:has-text("No QR code found in heading.png")');
    await dropOrPaste(alice.page, '.qr-drop', 'drop', { name: 'link.gif', type: 'image/gif', bytes: qrGif('https://example.org/') });
    await alice.page.waitForSelector('.error:has-text("The QR code in link.gif is not an Umbra card")');
    await alice.page.setInputFiles('#card-image', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(cards.get('bob')!) });
    await alice.page.waitForSelector('.error:has-text("notes.txt is not a PNG, JPEG, GIF or WebP image")');
    assert.deepEqual(alice.agent.contacts(), [], 'no picture without a card added anyone');
    // Alice adds Bob from a screenshot of the QR code on his screen; Bob adds Alice by her card URI.
    const bobsCode = await bob.page.locator('svg.qr').screenshot();
    await alice.page.setInputFiles('#card-image', { name: 'bob-card.png', mimeType: 'image/png', buffer: bobsCode });
    await alice.page.waitForSelector('.contact[data-name="bob"] .safety-number');
    assert.match((await alice.page.textContent('.notice'))!, /Added bob from the QR code in bob-card\.png/);
    assert.equal(await alice.page.locator('.error').count(), 0);
    await bob.page.fill('#card-uri', cards.get('alice')!);
    await bob.page.click('form.add-contact button[type=submit]');
    await bob.page.waitForSelector('.contact[data-name="alice"] .safety-number');
    const aliceSees = (await alice.page.textContent('.contact[data-name="bob"] .safety-number'))!;
    const bobSees = (await bob.page.textContent('.contact[data-name="alice"] .safety-number'))!;
    assert.match(aliceSees, /\d{5}/);
    assert.equal(aliceSees, bobSees, 'both screens show the same safety number');
    await alice.page.fill('#spoken-bob', bobSees);
    await alice.page.waitForSelector('.contact[data-name="bob"] .match');
    await bob.page.fill('#spoken-alice', `${bobSees.slice(0, -1)}${bobSees.endsWith('0') ? '1' : '0'}`);
    await bob.page.waitForSelector('.contact[data-name="alice"] .mismatch');
    await screenshot(alice.page, 'contacts');
  });

  test('Alice composes a mail in her browser and Bob\'s browser shows it arrive', async () => {
    const [alice, bob] = users;
    await bob.page.goto(`${bob.api.url}/#inbox`);
    await alice.page.goto(`${alice.api.url}/#compose`);
    await alice.page.fill('#compose-to', 'bob');
    await alice.page.fill('#compose-subject', 'Lunch on Thursday?');
    await alice.page.fill('#compose-body', 'Hi Bob,\n\nthe usual place at noon?\n\nAlice');
    await screenshot(alice.page, 'compose');
    await alice.page.click('form.compose button[type=submit]');
    await alice.page.waitForSelector('#sent-list .mail-row .badge');
    assert.match((await alice.page.textContent('.notice'))!, /Queued as sent #1/);
    await bob.page.waitForSelector('#inbox-list .mail-row:has-text("Lunch on Thursday?")', { timeout: ARRIVAL_LIMIT_MS });
    await screenshot(bob.page, 'inbox');
    assert.equal((await bob.page.textContent('#inbox-list .mail-row .num'))?.trim(), '1', 'the list shows the number the CLI reads it by');
    await bob.page.click('#inbox-list .mail-link');
    await bob.page.waitForSelector('.mail-text');
    assert.match((await bob.page.textContent('.mail-text'))!, /the usual place at noon\?/);
    assert.match((await bob.page.textContent('.num-full'))!, /umbra client read 1\b/);
    await screenshot(bob.page, 'mail');
    // Reply opens a draft to Alice, quoting her.
    await bob.page.keyboard.press('r');
    await bob.page.waitForSelector('#compose-to');
    assert.equal(await bob.page.inputValue('#compose-to'), 'alice');
    assert.equal(await bob.page.inputValue('#compose-subject'), 'Re: Lunch on Thursday?');
    await alice.page.goto(`${alice.api.url}/#sent`);
    await alice.page.waitForSelector('#sent-list .badge[data-status]');
    await screenshot(alice.page, 'sent');
  });

  test('the status page shows the connection, the epoch and the cover rates', async () => {
    const [alice] = users;
    await alice.page.goto(`${alice.api.url}/#status`);
    await alice.page.waitForSelector('table.status');
    const text = (await alice.page.textContent('table.status'))!;
    assert.match(text, /gateway-1 connected/);
    assert.match(text, /Epoch\d+/);
    assert.match(text, /packets\/s/);
    assert.match(text, /Alertnormal/, 'no alert on a healthy network');
    await screenshot(alice.page, 'status');
    await alice.page.setViewportSize({ width: 390, height: 800 });
    await alice.page.goto(`${alice.api.url}/#inbox`);
    await alice.page.waitForSelector('#folder-title');
    await screenshot(alice.page, 'phone-inbox');
  });

  test('the network view shows nonzero packet rates on every node', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(net.viewUrl);
    const count = net.file.nodes.length;
    await page.waitForFunction((n) => {
      const nodes = [...document.querySelectorAll('[data-node]')];
      return nodes.length === n && nodes.every((node) => Number(node.getAttribute('data-rate-in')) > 0);
    }, count, { timeout: 20_000 });
    const rates = await page.$$eval('[data-node]', (nodes) => nodes.map((node) => [node.getAttribute('data-node'), Number(node.getAttribute('data-rate-in'))] as const));
    assert.equal(rates.length, count);
    for (const [name, rate] of rates) assert.ok(rate > 0, `${name}: ${rate} packets/s`);
    await page.waitForSelector('[data-node] svg.bars');
    // The agents' loops went through the whole network and back: the end-to-end histogram.
    await page.waitForSelector('.latency-chart svg', { timeout: 20_000 });
    await screenshot(page, 'network');
    await page.close();
  });

  test('no URL any page asked for holds a token, and every API call sent it in its header', () => {
    for (const user of users) {
      assert.ok(user.urls.length > 0);
      for (const other of users) {
        const token = other.agent.apiToken();
        assert.deepEqual(user.urls.filter((url) => url.includes(token) || url.includes(encodeURIComponent(token))), []);
      }
      assert.deepEqual(user.headerless, []);
    }
  });
});
