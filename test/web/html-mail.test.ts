import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startApiServer, type ApiServer, type ClientAgent } from '../../src/client/index.js';
import { parseMail } from '../../src/client/mail-format.js';
import type { MailRecord } from '../../src/client/mail-store.js';
import { chromiumMissing, launchChromium, screenshot, startRemoteServer, type RemoteServer } from './support.js';

/**
 * Reading a hostile HTML mail in the web client, in chromium: the agent (a stand-in serving one
 * stored mail through the real API server) returns the raw message; the page shows its HTML part
 * sanitised in a sandboxed frame, says how many remote items it blocked, runs none of its script,
 * and nothing reaches the "remote" server the mail points at: not on opening it, not in the HTML
 * view, not in the text view.
 */
const TOKEN = 'T'.repeat(43);
let remote: RemoteServer;
let api: ApiServer;
let browser: Browser;
let page: Page;

function hostileMail(origin: string): Uint8Array {
  const html = [
    `<p>Dear Bob, <b>a special offer</b> for you.</p>`,
    `<img src="${origin}/track.gif?opened=1" alt="logo">`,
    `<div style="background:url(${origin}/css-bg.gif)">styled</div>`,
    `<style>body{background:url(${origin}/style-tag.gif)}</style>`,
    `<link rel="stylesheet" href="${origin}/sheet.css">`,
    `<script>parent.pwned = 1; fetch('${origin}/script')</script>`,
    `<img src="x" onerror="fetch('${origin}/onerror')">`,
    `<a href="https://example.org/offer">the offer</a>`,
  ].join('\n');
  const text = 'Dear Bob, a special offer for you.';
  return new TextEncoder().encode([
    'From: mallory <mallory@umbra>', 'To: bob <bob@umbra>', 'Subject: A special offer', 'Date: Sat, 05 Dec 2026 12:00:00 +0000',
    'Message-ID: <1@umbra>', 'MIME-Version: 1.0', 'Content-Type: multipart/alternative; boundary="b1"', '',
    '--b1', 'Content-Type: text/plain; charset=utf-8', '', text,
    '--b1', 'Content-Type: text/html; charset=utf-8', '', html,
    '--b1--', '',
  ].join('\r\n'));
}

function standInAgent(raw: Uint8Array): ClientAgent {
  const record: MailRecord = {
    id: 1, number: 1, folder: 'inbox', messageId: '00', fromKey: 'ab'.repeat(32), fromName: 'mallory', receivedMs: Date.now(), read: false,
    subject: 'A special offer', date: 'Sat, 05 Dec 2026 12:00:00 +0000', size: raw.length, attachments: 0,
  };
  const stub = {
    inbox: () => [record],
    sent: () => [],
    read: () => ({ record, raw, parsed: parseMail(raw) }),
    contacts: () => [],
    cardUri: () => 'umbra:card:stand-in',
    subscribe: () => () => undefined,
  };
  return stub as unknown as ClientAgent;
}

describe('a hostile HTML mail in the web client', { skip: chromiumMissing() }, () => {
  before(async () => {
    remote = await startRemoteServer();
    api = await startApiServer({ agent: standInAgent(hostileMail(remote.origin)), token: TOKEN });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  });

  after(async () => {
    await browser?.close();
    await api?.close();
    await remote?.close();
  });

  test('is shown sanitised in a sandbox, with its remote content blocked and counted', async () => {
    await page.goto(`${api.url}/`);
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector('#inbox-list .mail-link');
    await page.click('#inbox-list .mail-link');
    const frame = await page.waitForSelector('iframe.mail-html');
    assert.equal(await frame.getAttribute('sandbox'), '');
    const srcdoc = (await frame.evaluate((f) => (f as HTMLIFrameElement).srcdoc))!;
    assert.match(srcdoc, /a special offer/);
    assert.match(srcdoc, /href="https:\/\/example\.org\/offer"/);
    assert.doesNotMatch(srcdoc, new RegExp(`${remote.origin}|<script|onerror|<style|style=|<link`, 'i'));
    assert.match((await page.textContent('.html-note'))!, /[3-9] remote items blocked/);
    const content = await (await frame.contentFrame())!.textContent('body');
    assert.match(content!, /styled/);
    await screenshot(page, 'mail-html');
    await page.click('.html-note button');
    await page.waitForSelector('.mail-text');
    assert.match((await page.textContent('.mail-text'))!, /Dear Bob, a special offer for you\./);
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned ?? 0), 0);
    assert.deepEqual(remote.hits, [], 'the mail fetched nothing from its sender');
  });
});
