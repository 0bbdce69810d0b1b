import type { IncomingMessage, ServerResponse } from 'node:http';
import { builtPageDir, loopbackHost, sendPlain, StaticPage } from '../../net/static-page.js';

/**
 * The web client's files (docs/web.md), served by the agent's API listener without a token: the
 * page holds no secret, and asks the user for the token, which it then sends in a header to the
 * API routes. Only for requests naming the listener itself, so a DNS-rebound name gets nothing.
 */
export class WebClientFiles {
  private readonly page: StaticPage;

  constructor(dir = builtPageDir('client')) {
    this.page = new StaticPage(dir);
  }

  /** True when the request was for the page (and has been answered). */
  serve(req: IncomingMessage, res: ServerResponse, port: number): boolean {
    const path = (req.url ?? '/').split('?')[0];
    if (path.startsWith('/api/')) return false;
    if (!loopbackHost(req, port)) {
      req.resume();
      sendPlain(res, 421, 'open the web client at http://127.0.0.1:PORT/\n');
      return true;
    }
    return this.page.serve(req, res, path);
  }
}
