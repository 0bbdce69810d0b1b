import * as assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startApiServer, type ApiServer, type ClientAgent } from '../../src/client/index.js';
import { CONTENT_SECURITY_POLICY } from '../../src/net/static-page.js';
import { repoRoot } from '../support/vectors.js';
import { chromiumMissing, launchChromium, startRemoteServer, type RemoteServer } from './support.js';

/**
 * The web client's page security (docs/web.md, "Security"): the headers on every page file, the
 * token accepted only in the Authorization header, and in chromium: the CSP stops injected script
 * and remote loads, and the mail sanitiser removes scripts, event handlers, remote images and CSS
 * that could leak (each checked against a local "remote" server that counts requests; the same
 * HTML unsanitised, on a page without the CSP, does reach it, so the checks can fail).
 */
const TOKEN = 'A'.repeat(43);
let api: ApiServer;

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  // The page files need no agent: the stand-in would throw if a route reached it.
  api = await startApiServer({ agent: {} as ClientAgent, token: TOKEN });
});

after(async () => {
  await api?.close();
});

describe('the web client page', () => {
  test('every page file carries a strict CSP and no cookie', async () => {
    for (const path of ['/', '/app.js', '/app.css']) {
      const res = await get(`${api.url}${path}`);
      assert.equal(res.status, 200, path);
      const csp = String(res.headers['content-security-policy']);
      assert.equal(csp, CONTENT_SECURITY_POLICY);
      for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"]) {
        assert.ok(csp.includes(directive), `${directive} in ${csp}`);
      }
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*|https?:/);
      assert.equal(res.headers['set-cookie'], undefined);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
    }
    const page = await get(`${api.url}/`);
    assert.doesNotMatch(page.body, /<script>|<script [^>]*>[^<]|<style|\sstyle=|\son[a-z]+=/i, 'no inline script or style in the page');
  });

  test('a request naming another host gets nothing (DNS rebinding)', async () => {
    const res = await get(`${api.url}/`, { host: 'attacker.example:80' });
    assert.equal(res.status, 421);
    assert.doesNotMatch(res.body, /app\.js/);
  });

  test('the token counts only in the Authorization header', async () => {
    assert.equal((await get(`${api.url}/api/v1/status?token=${TOKEN}`)).status, 401);
    assert.equal((await get(`${api.url}/api/v1/status?access_token=${TOKEN}`)).status, 401);
    assert.equal((await get(`${api.url}/api/v1/status`, { cookie: `token=${TOKEN}` })).status, 401);
    assert.equal((await get(`${api.url}/api/v1/status`, { authorization: `Bearer ${'B'.repeat(43)}` })).status, 401);
  });
});

describe('in chromium', { skip: chromiumMissing() }, () => {
  let browser: Browser;
  let remote: RemoteServer;
  let page: Page;

  before(async () => {
    [browser, remote] = await Promise.all([launchChromium(), startRemoteServer()]);
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await remote?.close();
  });

  test('the CSP stops injected inline script and every remote load on the client page', async () => {
    await page.goto(`${api.url}/`);
    await page.waitForSelector('#token');
    const violations = await page.evaluate(async (origin) => {
      const seen: string[] = [];
      document.addEventListener('securitypolicyviolation', (e) => seen.push(e.effectiveDirective));
      const w = window as unknown as { pwned?: number };
      document.body.insertAdjacentHTML('beforeend', `<img src="${origin}/pixel.gif"><img src="x" onerror="window.pwned=1"><link rel="stylesheet" href="${origin}/a.css">`);
      const script = document.createElement('script');
      script.textContent = 'window.pwned = 2';
      document.body.append(script);
      await fetch(`${origin}/beacon`).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      return { seen, pwned: w.pwned ?? 0 };
    }, remote.origin);
    assert.equal(violations.pwned, 0, 'no injected script ran');
    assert.ok(violations.seen.includes('img-src') && violations.seen.includes('script-src-elem') && violations.seen.includes('connect-src'), violations.seen.join());
    assert.deepEqual(remote.hits, [], 'the remote server got nothing');
  });

  test('the sanitiser removes scripts, handlers, remote images and leaking CSS (and the test can fail)', async () => {
    const cases: [string, RegExp][] = [
      ['<p>hi</p><script>window.pwned=1</script>', /<script/i],
      ['<img src="x" onerror="window.pwned=1"><div onclick="window.pwned=1" onmouseover="x()">t</div>', /on(error|click|mouseover)/i],
      ['<a href="javascript:window.pwned=1">x</a><a href=" JaVaScRiPt:alert(1)">y</a>', /javascript:/i],
      ['<svg><script>window.pwned=1</script><image href="REMOTE/svg.gif"/></svg><svg onload="window.pwned=1"></svg>', /<svg|onload|REMOTE/i],
      ['<img src="REMOTE/pixel.gif"><img srcset="REMOTE/set.gif 1x">', /REMOTE/],
      ['<div style="background:url(REMOTE/bg.gif)">a</div><p style="background-image: image-set(\'REMOTE/s.gif\' 1x)">b</p>', /style=|REMOTE/],
      ['<style>@import "REMOTE/i.css"; body{background:url(REMOTE/s.gif)} input[value^="a"]{background:url(REMOTE/a)}</style><p>x</p>', /<style|REMOTE/],
      ['<link rel="stylesheet" href="REMOTE/a.css"><table background="REMOTE/t.gif"><tr><td>c</td></tr></table>', /<link|REMOTE/],
      ['<iframe src="REMOTE/f"></iframe><object data="REMOTE/o"></object><embed src="REMOTE/e"><video poster="REMOTE/v.gif"></video>', /<iframe|<object|<embed|REMOTE/],
      ['<form action="REMOTE/f"><input name="a"><button formaction="REMOTE/b">b</button></form>', /<form|<input|REMOTE/],
      ['<meta http-equiv="refresh" content="0;url=REMOTE/m"><base href="REMOTE/">', /<meta|<base|REMOTE/],
    ];
    await page.goto(`${remote.origin}/blank`);
    await page.addScriptTag({ path: join(repoRoot, 'dist', 'web', 'test', 'sanitise.js') });
    for (const [dirty, forbidden] of cases) {
      const html = dirty.replaceAll('REMOTE', remote.origin);
      const out = await page.evaluate((h) => (window as unknown as { umbraSanitise: { sanitiseMailHtml(h: string): { html: string; blocked: number } } }).umbraSanitise.sanitiseMailHtml(h), html);
      assert.doesNotMatch(out.html.replaceAll(remote.origin, 'REMOTE'), forbidden, `${dirty} → ${out.html}`);
      // Shown on a page without any CSP: the sanitised HTML fetches nothing and runs nothing.
      await page.evaluate((h) => { document.body.innerHTML = h; }, out.html);
    }
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned ?? 0), 0);
    assert.deepEqual(remote.hits, [], 'sanitised mail made no remote request');

    const kept = await page.evaluate(() => (window as unknown as { umbraSanitise: { sanitiseMailHtml(h: string): { html: string; blocked: number } } }).umbraSanitise.sanitiseMailHtml(
      '<p><b>bold</b> <a href="https://example.org/">link</a> <img alt="dot" src="data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="></p>'));
    assert.match(kept.html, /<b>bold<\/b>/);
    assert.match(kept.html, /href="https:\/\/example\.org\/"[^>]*rel="noopener noreferrer"|rel="noopener noreferrer"[^>]*href="https:\/\/example\.org\/"/);
    assert.match(kept.html, /src="data:image\/gif;base64,/);
    const counted = await page.evaluate((o) => (window as unknown as { umbraSanitise: { sanitiseMailHtml(h: string): { blocked: number } } }).umbraSanitise.sanitiseMailHtml(`<img src="${o}/1.gif"><img src="${o}/2.gif"><link rel=stylesheet href="${o}/c.css">`).blocked, remote.origin);
    assert.ok(counted >= 3, `blocked ${counted}`);

    // The control: the same HTML unsanitised does reach the remote server from this page.
    await page.evaluate((o) => { document.body.innerHTML = `<img src="${o}/control.gif"><div style="background:url(${o}/control-css.gif)">x</div>`; }, remote.origin);
    for (let i = 0; i < 50 && (remote.hits as string[]).length < 2; i++) await page.waitForTimeout(50);
    assert.ok((remote.hits as string[]).some((hit) => hit.includes('control')), 'the unsanitised control reached the remote server');
  });
});
