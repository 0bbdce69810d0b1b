import type { ApiEndpoint } from '../client/index.js';

/**
 * `umbra client` talking to a running agent through its local API (docs/api.md), so reading or
 * sending mail never stops the agent (which would reconnect every link, visibly).
 */
export class AgentApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AgentApiError';
  }
}

export class AgentApi {
  constructor(private readonly endpoint: ApiEndpoint) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.endpoint.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.endpoint.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch {
      throw new AgentApiError(0, 'unreachable', `the running agent (process ${this.endpoint.pid}) does not answer at ${this.endpoint.url}`);
    }
    const text = await response.text();
    if (!response.ok) {
      let problem: { code?: string; detail?: string } = {};
      try {
        problem = JSON.parse(text) as typeof problem;
      } catch {
        // not a problem document
      }
      throw new AgentApiError(response.status, problem.code ?? 'error', problem.detail ?? `HTTP ${response.status}`);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /**
   * Waits for the delivery status of sent mail `id` (sent #`number`) to become final (delivered or
   * failed), from the agent's event stream; resolves with the last status line, or undefined at the timeout.
   */
  async waitForDelivery(id: number, number: number, timeoutMs: number, onLine: (line: string) => void): Promise<'delivered' | 'failed' | undefined> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const response = await fetch(`${this.endpoint.url}/api/v1/events`, { headers: { authorization: `Bearer ${this.endpoint.token}` }, signal: abort.signal });
      if (!response.ok || response.body === null) throw new AgentApiError(response.status, 'events', 'the agent refused its event stream');
      // The status may have become final before the stream opened.
      const current = await this.call<{ status?: string }>('GET', `/api/v1/messages/${id}`).catch(() => undefined);
      if (current?.status === 'delivered' || current?.status === 'failed') return current.status;
      let buffer = '';
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data === undefined) continue;
          const event = JSON.parse(data) as { type: string; id?: number; status?: string; reason?: string; recipient?: { name: string; field: string; status: string; reason?: string } };
          if (event.type !== 'status' || event.id !== id) continue;
          const r = event.recipient;
          // `status` is the whole mail's; `recipient` the envelope that changed.
          if (r !== undefined) onLine(`sent #${number} to ${r.name}${r.field === 'to' ? '' : ` (${r.field})`} is ${r.status}${r.reason !== undefined ? `: ${r.reason}` : ''} (the mail: ${event.status ?? '?'})`);
          else onLine(`sent #${number} is ${event.status ?? '?'}${event.reason !== undefined ? `: ${event.reason}` : ''}`);
          if (event.status === 'delivered' || event.status === 'failed') return event.status;
        }
      }
      return undefined;
    } catch (error) {
      if (abort.signal.aborted) return undefined;
      throw error;
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }
}
