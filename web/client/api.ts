/**
 * The page's only way to the agent: its REST API on the same origin (docs/api.md), with the token
 * in the Authorization header. The token is kept in sessionStorage (gone when the tab closes),
 * never in a URL and never in a cookie.
 */
const TOKEN_KEY = 'umbra-api-token';

/** `id`: the mail in the agent's store (for /messages/{id}); `number`: its number in its folder, as the CLI shows it. */
export interface MailSummary {
  id: number;
  number: number;
  folder: 'inbox' | 'sent';
  subject: string;
  from?: string;
  to?: string;
  received_ms?: number;
  created_ms?: number;
  read?: boolean;
  status?: string;
  reason?: string;
  size: number;
}

export interface Message {
  id: number;
  number: number;
  folder: 'inbox' | 'sent';
  from: string;
  to: string;
  subject: string;
  date: string;
  text: string;
  attachments: { filename: string; content_type: string; size: number }[];
  raw: string;
  status?: string;
  reason?: string;
}

export interface Contact {
  name: string;
  key: string;
  safety_number: string;
  servers: string[];
  card_uri: string;
}

export interface SendRequest {
  to: string[];
  cc?: string[];
  bcc?: string[];
  subject: string;
  body: string;
  attachments?: { filename: string; content_type: string; data: string }[];
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export function savedToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

function headers(withBody: boolean): Record<string, string> {
  return { authorization: `Bearer ${savedToken() ?? ''}`, ...(withBody ? { 'content-type': 'application/json' } : {}) };
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers: headers(body !== undefined),
    credentials: 'omit',
    cache: 'no-store',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) {
    let problem: { code?: string; detail?: string } = {};
    try {
      problem = JSON.parse(text) as typeof problem;
    } catch {
      // not a problem document
    }
    throw new ApiError(response.status, problem.code ?? 'error', problem.detail ?? `HTTP ${response.status}`);
  }
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export interface AgentEvent {
  type: string;
  id?: number;
  number?: number;
  status?: string;
  reason?: string;
  subject?: string;
  from?: string;
}

/**
 * The agent's server-sent events, read with fetch (EventSource cannot send a header). Calls
 * `onEvent` per event until `signal` aborts; resolves when the stream ends.
 */
export async function readEvents(onEvent: (event: AgentEvent) => void, signal: AbortSignal): Promise<void> {
  const response = await fetch('/api/v1/events', { headers: headers(false), credentials: 'omit', cache: 'no-store', signal });
  if (!response.ok || response.body === null) throw new ApiError(response.status, 'events', 'the agent refused its event stream');
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    if (buffer.length > 1 << 20) buffer = buffer.slice(-(1 << 16));
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data === undefined) continue;
      try {
        onEvent(JSON.parse(data) as AgentEvent);
      } catch {
        // a malformed event is skipped
      }
    }
  }
}
