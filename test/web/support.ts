import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../support/vectors.js';

/**
 * The browser tests drive Debian's chromium package (/usr/bin/chromium, which .ci/run installs
 * when missing; UMBRA_CHROMIUM names another binary) with playwright-core. Without it they skip, saying so.
 */
export const CHROMIUM = process.env.UMBRA_CHROMIUM ?? '/usr/bin/chromium';

/** The reason to skip a browser test, or false when chromium is there. */
export function chromiumMissing(): string | false {
  return existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: apt-get install -y chromium (or set UMBRA_CHROMIUM); the browser tests skip`;
}

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where chromium refuses its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

let screenshots: string | undefined;

/**
 * Saves a screenshot of `page` into a temporary folder (printed once); with
 * UMBRA_UPDATE_SCREENSHOTS=1 it also replaces docs/screenshots/<name>.png.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  if (screenshots === undefined) {
    screenshots = mkdtempSync(join(tmpdir(), 'umbra-screenshots-'));
    process.stdout.write(`# screenshots in ${screenshots}\n`);
  }
  const path = join(screenshots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  if (process.env.UMBRA_UPDATE_SCREENSHOTS === '1') {
    const docs = join(repoRoot, 'docs', 'screenshots');
    mkdirSync(docs, { recursive: true });
    copyFileSync(path, join(docs, `${name}.png`));
  }
  return path;
}

/** A stand-in for a remote server (another origin): counts every request it gets. */
export interface RemoteServer {
  readonly origin: string;
  readonly hits: string[];
  close(): Promise<void>;
}

const PIXEL = Buffer.from('R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==', 'base64');

export async function startRemoteServer(): Promise<RemoteServer> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    if (req.url === '/favicon.ico') return void res.writeHead(404).end();
    if (req.url === '/blank') {
      // A plain page without any CSP, for the sanitiser's checks.
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end('<!doctype html><title>blank</title><body></body>');
    }
    hits.push(req.url ?? '');
    const css = (req.url ?? '').endsWith('.css');
    res.writeHead(200, { 'content-type': css ? 'text/css' : 'image/gif', 'access-control-allow-origin': '*' });
    res.end(css ? 'body{background:url(/from-css.gif)}' : PIXEL);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // Another port is another origin than the page's, as any remote host would be.
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    hits,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
