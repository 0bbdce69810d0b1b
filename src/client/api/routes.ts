import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientAgent, SendResult } from '../agent/types.js';
import type { BridgeEndpoints } from '../bridge/index.js';
import { ClientError } from '../errors.js';
import { readJson, refuseBody, sendJson } from './http-io.js';
import { ApiProblem, statusOfClientError } from './problem.js';
import { validate } from './validate.js';
import { contactView, mailSummary, messageView } from './views.js';

/**
 * The handlers of the agent's local API (docs/api.md). Each takes the request, checks it against
 * the OpenAPI schemas, calls the agent, and answers JSON; every refusal is an ApiProblem.
 */
export interface RouteContext {
  readonly agent: ClientAgent;
  readonly now: () => number;
  /** The largest request body taken (zk-send carries attachments as base64). */
  readonly maxBodyBytes: number;
  /** Where the mail bridge listens, when it runs. */
  readonly bridge?: () => BridgeEndpoints | undefined;
}

interface SendBody {
  to: string | string[];
  cc?: string[];
  bcc?: string[];
  external?: boolean;
  subject: string;
  body: string;
  attachments?: { filename: string; content_type?: string; data: string }[];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Runs `work`, turning the agent's refusals into problems. */
function agentCall<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw problemOf(error);
  }
}

/** agentCall for a call that resolves later (send). */
async function agentCallAsync<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw problemOf(error);
  }
}

function problemOf(error: unknown): unknown {
  return error instanceof ClientError ? new ApiProblem(statusOfClientError(error.code), error.code, error.message) : error;
}

export async function zkSend(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = validate<SendBody>('SendRequest', await readJson(req, res, ctx.maxBodyBytes));
  const attachments = (body.attachments ?? []).map((file, i) => {
    if (!BASE64.test(file.data) || file.data.length % 4 !== 0) throw new ApiProblem(400, 'invalid-request', `attachments.${i}.data is not base64`);
    return { filename: file.filename, contentType: file.content_type ?? 'application/octet-stream', data: new Uint8Array(Buffer.from(file.data, 'base64')) };
  });
  const { agent } = ctx;
  if (body.external === true) {
    // Ordinary, NOT private email through the user's relay: only when asked for, per message.
    const to = typeof body.to === 'string' ? [body.to] : body.to;
    const external = await agentCallAsync(() => agent.sendExternal({ to, cc: body.cc ?? [], bcc: body.bcc ?? [], subject: body.subject, body: body.body, attachments }));
    sendJson(res, 200, { status: 'sent', id: external.id, number: external.number, accepted: external.accepted, rejected: external.rejected, private: false, warning: external.warning });
    return;
  }
  const result = await agentCallAsync(() => agent.send({ to: body.to, cc: body.cc ?? [], bcc: body.bcc ?? [], subject: body.subject, body: body.body, attachments }));
  sendJson(res, 202, queuedView(ctx, result));
}

/** POST /api/v1/messages/{id}/resend: a failed sent mail, sent again. */
export async function resendMessage(ctx: RouteContext, id: number, res: ServerResponse): Promise<void> {
  const result = await agentCallAsync(() => ctx.agent.resend(id));
  sendJson(res, 202, queuedView(ctx, result));
}

/** What a send or resend answers: queued, or waiting for a recipient's server (with why), and an estimate. */
function queuedView(ctx: RouteContext, result: SendResult): Record<string, unknown> {
  const status = ctx.agent.status();
  const sent = ctx.agent.sent().find((mail) => mail.id === result.id);
  const waiting = sent?.status === 'waiting' ? { status: 'waiting', ...(sent.reason === undefined ? {} : { reason: sent.reason }) } : { status: 'queued' };
  // The queue ahead drains at the send rate; each packet then waits its mixing delays (3 mixes: the gateway forwards at once).
  const drainMs = status.rates.sendPerSecond > 0 ? ((status.queue + result.fragments) / status.rates.sendPerSecond) * 1000 : 0;
  const estimated = new Date(ctx.now() + drainMs + 3 * status.meanDelayMs);
  const recipients = result.recipients.map((r) => ({ name: r.name, key: r.key, field: r.field, message_id: r.messageId, fragments: r.fragments }));
  return { ...waiting, id: result.id, number: result.number, message_id: result.messageId, fragments: result.fragments, recipients, estimated_delivery: estimated.toISOString() };
}

export async function zkRetrieve(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = validate<{ since_id?: number }>('RetrieveRequest', (await readJson(req, res, 4096)) ?? {});
  const since = body.since_id ?? 0;
  const status = ctx.agent.status();
  const messages = ctx.agent.inbox().filter((mail) => mail.id > since).map(mailSummary);
  sendJson(res, 200, { messages, polls: { done: status.polls.done, ...(status.polls.lastMs !== undefined ? { last_ms: status.polls.lastMs } : {}) } });
}

export function zkMailboxDb(ctx: RouteContext, query: URLSearchParams, res: ServerResponse): void {
  const folder = query.get('folder') ?? 'inbox';
  if (folder !== 'inbox' && folder !== 'sent') throw new ApiProblem(400, 'invalid-request', 'folder must be inbox or sent');
  const offset = wholeNumber(query.get('offset'), 'offset', 0, Number.MAX_SAFE_INTEGER, 0);
  const limit = wholeNumber(query.get('limit'), 'limit', 1, 500, 50);
  const number = query.get('number') === null ? undefined : wholeNumber(query.get('number'), 'number', 1, Number.MAX_SAFE_INTEGER, 1);
  const mails = folder === 'inbox' ? ctx.agent.inbox() : ctx.agent.sent();
  const all = number === undefined ? mails : mails.filter((mail) => mail.number === number);
  sendJson(res, 200, { total: all.length, offset, limit, items: all.slice(offset, offset + limit).map(mailSummary) });
}

function wholeNumber(text: string | null, name: string, min: number, max: number, fallback: number): number {
  if (text === null) return fallback;
  const value = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new ApiProblem(400, 'invalid-request', `${name} must be a whole number from ${min} to ${max}`);
  return value;
}

export function messageId(text: string): number {
  if (!/^[1-9]\d{0,15}$/.test(text)) throw new ApiProblem(400, 'invalid-request', 'the message id is a positive whole number');
  return Number(text);
}

export function getMessage(ctx: RouteContext, id: number, res: ServerResponse): void {
  sendJson(res, 200, messageView(agentCall(() => ctx.agent.read(id))));
}

export function deleteMessage(ctx: RouteContext, id: number, res: ServerResponse): void {
  agentCall(() => ctx.agent.deleteMail(id));
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
}

export function listContacts(ctx: RouteContext, res: ServerResponse): void {
  sendJson(res, 200, ctx.agent.contacts().map(contactView));
}

export async function addContact(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = validate<{ card_uri: string }>('AddContactRequest', await readJson(req, res, 16 * 1024));
  sendJson(res, 201, contactView(agentCall(() => ctx.agent.addContact(body.card_uri))));
}

export function ownCard(ctx: RouteContext, res: ServerResponse): void {
  sendJson(res, 200, { card_uri: ctx.agent.cardUri() });
}

export function status(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): void {
  refuseBody(req, res);
  sendJson(res, 200, ctx.agent.status());
}

/** What a mail program needs: server, port, security, user name, password and the certificate's fingerprint. */
export async function bridgeSettings(ctx: RouteContext, res: ServerResponse): Promise<void> {
  const endpoints = ctx.bridge?.();
  if (endpoints === undefined) throw new ApiProblem(404, 'no-bridge', 'the mail bridge is not running in this agent');
  const credentials = await ctx.agent.bridgeCredentials();
  sendJson(res, 200, {
    host: endpoints.smtp.host,
    smtp: { port: endpoints.smtp.port, security: endpoints.smtp.security },
    imap: { port: endpoints.imap.port, security: endpoints.imap.security },
    username: credentials.username,
    password: credentials.password,
    certificate_sha1: credentials.tls.fingerprint,
  });
}
