import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiProblem } from './problem.js';

/** Reads a JSON body of at most `maxBytes`; larger, malformed or non-JSON bodies are problems. */
export function readJson(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared === 0 && req.headers['transfer-encoding'] === undefined) return Promise.resolve(undefined);
  if (type !== 'application/json') {
    refuseBody(req, res);
    return Promise.reject(new ApiProblem(415, 'bad-content-type', 'the body must be application/json'));
  }
  if (declared > maxBytes) {
    refuseBody(req, res);
    return Promise.reject(new ApiProblem(413, 'too-large', `the body exceeds ${maxBytes} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const fail = (problem: ApiProblem): void => {
      if (settled) return;
      settled = true;
      reject(problem);
    };
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        refuseBody(req, res);
        req.pause();
        fail(new ApiProblem(413, 'too-large', `the body exceeds ${maxBytes} bytes`));
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      const text = Buffer.concat(chunks, total).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new ApiProblem(400, 'malformed-json', 'the body is not JSON'));
      }
    });
    req.on('error', () => fail(new ApiProblem(400, 'bad-body', 'the body ended early')));
    req.on('close', () => fail(new ApiProblem(400, 'bad-body', 'the body ended early')));
  });
}

/** A body not wanted is not read: the answer goes out and the connection closes. */
export function refuseBody(req: IncomingMessage, res: ServerResponse): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    req.resume();
    return;
  }
  res.setHeader('connection', 'close');
  res.on('finish', () => req.destroy());
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store' });
  res.end(body);
}
