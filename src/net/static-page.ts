import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

/**
 * A built page (dist/web/<name>: index.html, app.js, app.css, chunk-*.js) served from memory on a loopback
 * listener, with headers that let it do nothing but run its own script and talk to its own origin
 * (docs/web.md, "Security"): no inline script or style, no remote load of any kind, no framing,
 * no referrer, no cookie. Requests naming another host are refused, so a DNS-rebound name cannot
 * read the page or its JSON.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
  'cache-control': 'no-store',
});

const TYPES: Readonly<Record<string, string>> = { 'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' };
/** Parts of a script that the bundler split off, loaded by app.js on demand. */
const CHUNK = /^chunk-[A-Za-z0-9]{1,32}\.js$/;

/** Where `npm run build` puts the pages: dist/web, beside dist/src. */
export function builtPageDir(name: 'client' | 'network'): string {
  return join(new URL('../../web/', import.meta.url).pathname, name);
}

export class StaticPage {
  private readonly files = new Map<string, Buffer>();

  /** Reads the page's files once; a page that was not built answers 503 saying so. */
  constructor(readonly dir: string) {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) if (Object.hasOwn(TYPES, name) || CHUNK.test(name)) this.files.set(name, readFileSync(join(dir, name)));
  }

  get built(): boolean {
    return Object.keys(TYPES).every((name) => this.files.has(name));
  }

  /** True when `path` is one of the page's files (and the answer was sent). */
  serve(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const name = path === '/' ? 'index.html' : path.slice(1);
    if (!Object.hasOwn(TYPES, name) && !CHUNK.test(name)) return false;
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendPlain(res, 405, 'GET only\n', { allow: 'GET, HEAD' });
      return true;
    }
    const body = this.files.get(name);
    if (body === undefined) {
      sendPlain(res, 503, 'the web pages are not built: run `npm run build`\n');
      return true;
    }
    res.writeHead(200, { ...PAGE_HEADERS, 'content-type': TYPES[name] ?? TYPES['app.js'], 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}

/** Whether the request names this listener itself (127.0.0.1, localhost or [::1] on its port). */
export function loopbackHost(req: IncomingMessage, port: number): boolean {
  const host = (req.headers.host ?? '').toLowerCase();
  return host === `127.0.0.1:${port}` || host === `localhost:${port}` || host === `[::1]:${port}`;
}

export function sendPlain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...PAGE_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}
