import type { ServerResponse } from 'node:http';
import type { ClientErrorCode } from '../errors.js';

/**
 * A refused API request as RFC 9457 problem details: `type` is `urn:umbra:problem:<code>`, `code`
 * is the same stable word, `detail` one line a person can read (docs/api.md, "Errors").
 */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
    this.name = 'ApiProblem';
  }
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad request', 401: 'Unauthorized', 404: 'Not found', 405: 'Method not allowed', 413: 'Too large',
  415: 'Unsupported media type', 422: 'Unprocessable request', 500: 'Internal error', 502: 'Bad gateway', 503: 'Unavailable',
};

export function sendProblem(res: ServerResponse, problem: ApiProblem): void {
  const body = JSON.stringify({
    type: `urn:umbra:problem:${problem.code}`,
    title: TITLES[problem.status] ?? 'Error',
    status: problem.status,
    detail: problem.message,
    code: problem.code,
  });
  res.writeHead(problem.status, { 'content-type': 'application/problem+json', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', ...problem.headers });
  res.end(body);
}

/** The HTTP status of each of the agent's refusals: the caller's mistakes are 4xx, the network's 503. */
const CLIENT_ERROR_STATUS: Readonly<Partial<Record<ClientErrorCode, number>>> = {
  'bad-card': 422, 'unknown-contact': 422, 'ambiguous-contact': 422, 'bad-options': 422,
  'too-large': 413, 'unknown-mail': 404, 'no-relay': 422, 'relay-failed': 502,
  'no-consensus': 503, 'no-provider': 503, 'consensus-refused': 503, 'consensus-mismatch': 503, 'unsupported-network': 503, closed: 503,
};

export function statusOfClientError(code: ClientErrorCode): number {
  return CLIENT_ERROR_STATUS[code] ?? 500;
}
