import { html, nothing, render } from 'lit-html';
import { ApiError, call, forgetToken, readEvents, saveToken, savedToken, type Contact, type MailSummary, type Message, type SendRequest } from './api.js';
import { imageAmong, readCardFromImage } from './qr-image.js';
import { sanitiseMailHtml } from './sanitise.js';
import { emptyDraft, forwardDraft, recipients, replyDraft, routeFromHash, state, type Status } from './state.js';
import { composeView, fileAsBase64 } from './views-compose.js';
import { contactsView } from './views-contacts.js';
import { folderView, mailView } from './views-mail.js';
import { statusView, tokenView } from './views-status.js';

/**
 * The Umbra web client (docs/web.md): a page of the local client agent. It holds no key and does
 * no cryptography: it shows what the agent's REST API answers and asks the agent to send.
 */
const root = document.getElementById('app') as HTMLElement;
root.replaceChildren();
let events: AbortController | undefined;
let statusTimer: number | undefined;

function fail(error: unknown): void {
  if (error instanceof ApiError && error.status === 401) {
    forgetToken();
    state.hasToken = false;
    state.error = 'The agent refused the token: paste the one `umbra client --dir DIR api` prints.';
    stopLive();
  } else {
    state.error = error instanceof Error ? error.message : String(error);
  }
  draw();
}

async function loadFolders(): Promise<void> {
  const [inbox, sent] = await Promise.all([
    call<{ items: MailSummary[] }>('GET', '/zk-mailbox-db?folder=inbox&limit=500'),
    call<{ items: MailSummary[] }>('GET', '/zk-mailbox-db?folder=sent&limit=500'),
  ]);
  state.inbox = inbox.items;
  state.sent = sent.items;
}

async function loadContacts(): Promise<void> {
  const [contacts, card] = await Promise.all([call<Contact[]>('GET', '/contacts'), call<{ card_uri: string }>('GET', '/card')]);
  state.contacts = contacts;
  state.card = card.card_uri;
}

async function loadStatus(): Promise<void> {
  state.status = await call<Status>('GET', '/status');
}

async function openMail(id: number): Promise<void> {
  const message = await call<Message>('GET', `/messages/${id}`);
  const summary = [...state.inbox, ...state.sent].find((m) => m.id === id && m.folder === message.folder);
  const correspondent = (message.folder === 'inbox' ? summary?.from : summary?.to) ?? '';
  const raw = Uint8Array.from(atob(message.raw), (c) => c.charCodeAt(0));
  // The MIME parser is a chunk of its own, loaded when the first mail is opened.
  const { default: PostalMime } = await import('postal-mime');
  const parsed = await PostalMime.parse(raw).catch(() => undefined);
  const html = typeof parsed?.html === 'string' && parsed.html !== '' ? sanitiseMailHtml(parsed.html) : undefined;
  state.open = { message, correspondent, ...(html === undefined ? {} : { html }), showHtml: html !== undefined };
  if (message.folder === 'inbox') await loadFolders();
}

/** Loads what the current page shows. */
async function refresh(): Promise<void> {
  if (!state.hasToken) return;
  try {
    if (state.page === 'inbox' || state.page === 'sent') await loadFolders();
    if (state.page === 'mail' && state.mailId !== undefined) {
      if (state.inbox.length + state.sent.length === 0) await loadFolders();
      await openMail(state.mailId);
    }
    if (state.page === 'contacts' || state.page === 'compose') await loadContacts();
    if (state.page === 'status') await loadStatus();
    state.error = '';
  } catch (error) {
    return fail(error);
  }
  draw();
}

function startLive(): void {
  stopLive();
  events = new AbortController();
  const signal = events.signal;
  readEvents((event) => {
    if (event.type === 'received') state.notice = `New mail from ${event.from ?? 'a contact'}: ${event.subject ?? ''}`;
    if (event.type === 'status' && event.status === 'failed') state.notice = `Sent mail #${event.number ?? '?'} failed: ${event.reason ?? 'no reason given'}`;
    void refresh();
  }, signal).then(() => reconnect(signal), (error: unknown) => {
    if (signal.aborted) return;
    if (error instanceof ApiError && error.status === 401) return fail(error);
    reconnect(signal);
  });
  statusTimer = window.setInterval(() => {
    if (state.page === 'status') void refresh();
  }, 2000);
}

/** The event stream ended (the agent restarted, the machine slept): open it again a little later. */
function reconnect(signal: AbortSignal): void {
  if (signal.aborted) return;
  window.setTimeout(() => {
    if (!signal.aborted && state.hasToken) {
      startLive();
      void refresh();
    }
  }, 3000);
}

function stopLive(): void {
  events?.abort();
  events = undefined;
  if (statusTimer !== undefined) window.clearInterval(statusTimer);
}

async function send(files: FileList | null): Promise<void> {
  const d = state.draft;
  const to = recipients(d.to);
  if (to.length === 0) {
    state.error = 'Name at least one contact in To.';
    return draw();
  }
  const request: SendRequest = { to, subject: d.subject, body: d.body };
  const cc = recipients(d.cc);
  const bcc = recipients(d.bcc);
  if (cc.length > 0) request.cc = cc;
  if (bcc.length > 0) request.bcc = bcc;
  state.busy = true;
  draw();
  try {
    if (files !== null && files.length > 0) {
      request.attachments = await Promise.all([...files].map(async (file) => ({ filename: file.name, content_type: file.type || 'application/octet-stream', data: await fileAsBase64(file) })));
    }
    const result = await call<{ number: number; estimated_delivery: string }>('POST', '/zk-send', request);
    state.draft = emptyDraft();
    state.notice = `Queued as sent #${result.number}; expected to arrive around ${new Date(result.estimated_delivery).toLocaleTimeString()}.`;
    state.error = '';
    location.hash = '#sent';
  } catch (error) {
    fail(error);
  } finally {
    state.busy = false;
    draw();
  }
}

async function addContact(uri: string, from?: string): Promise<void> {
  try {
    const contact = await call<Contact>('POST', '/contacts', { card_uri: uri });
    state.notice = `Added ${contact.name}${from === undefined ? '' : ` from the QR code in ${from}`}. Compare your safety numbers below.`;
    state.error = '';
    (document.getElementById('card-uri') as HTMLTextAreaElement | null)?.form?.reset();
    await loadContacts();
  } catch (error) {
    return fail(error);
  }
  draw();
}

/** Reads the card in a picture of its QR code, in the page, and adds it as a pasted URI is added. */
async function addContactFromImage(file: File): Promise<void> {
  const name = file.name === '' ? 'the pasted image' : file.name;
  if (state.busy) return;
  state.notice = `Reading the QR code in ${name}…`;
  state.error = '';
  state.busy = true;
  draw();
  let uri: string;
  try {
    uri = await readCardFromImage(file, name);
  } catch (error) {
    state.busy = false;
    state.notice = '';
    return fail(error);
  }
  state.busy = false;
  await addContact(uri, name);
}

/** An image pasted anywhere on the contacts page is read as a card's QR code. */
function onPaste(e: ClipboardEvent): void {
  if (!state.hasToken || state.page !== 'contacts') return;
  const image = imageAmong(e.clipboardData?.files);
  if (image === undefined) return;
  e.preventDefault();
  void addContactFromImage(image);
}

async function removeOpen(): Promise<void> {
  const mail = state.open;
  if (mail === undefined || !window.confirm('Delete this mail from this computer?')) return;
  try {
    await call('DELETE', `/messages/${mail.message.id}`);
    state.open = undefined;
    location.hash = mail.message.folder === 'sent' ? '#sent' : '#inbox';
  } catch (error) {
    fail(error);
  }
}

const NAV: [string, string, string][] = [['inbox', 'Inbox', 'i'], ['sent', 'Sent', 's'], ['compose', 'Write', 'c'], ['contacts', 'Contacts', 'p'], ['status', 'Status', 't']];

function draw(): void {
  const current = state.page === 'mail' ? state.open?.message.folder ?? 'inbox' : state.page;
  const nav = html`<nav aria-label="Folders and pages"><ul>${NAV.map(([page, label, key]) =>
    html`<li><a href="#${page}" aria-current=${page === current ? 'page' : nothing} title="${label} (${key})">${label}${page === 'inbox' && state.inbox.some((m) => m.read === false) ? html` <span class="unread-dot" aria-label="unread mail">•</span>` : nothing}</a></li>`)}
    ${state.hasToken ? html`<li><button type="button" class="link" @click=${disconnect}>Disconnect</button></li>` : nothing}</ul></nav>`;
  const page = !state.hasToken ? tokenView(state.error, connect)
    : state.page === 'compose' ? composeView(state, { edit: (field, value) => void (state.draft[field] = value), send: (files) => void send(files) })
    : state.page === 'contacts' ? contactsView(state, { add: (uri) => void addContact(uri), addImage: (file) => void addContactFromImage(file), compare: () => draw() })
    : state.page === 'status' ? statusView(state)
    : state.page === 'mail' ? mailView(state, {
      reply: () => { if (state.open) { state.draft = replyDraft(state.open); location.hash = '#compose'; } },
      forward: () => { if (state.open) { state.draft = forwardDraft(state.open); location.hash = '#compose'; } },
      toggleHtml: () => { if (state.open) { state.open.showHtml = !state.open.showHtml; draw(); } },
      remove: () => void removeOpen(),
    })
    : folderView(state);
  render(html`<header><a class="brand" href="#inbox">Umbra</a>${state.hasToken ? nav : nothing}</header>
    <p class="notice" role="status" aria-live="polite">${state.notice}</p>
    ${state.hasToken && state.error !== '' ? html`<p class="error" role="alert">${state.error}</p>` : nothing}
    <main id="main" tabindex="-1">${page}</main>`, root);
}

function connect(token: string): void {
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(token)) {
    state.error = 'That is not an API token: it is the base64url text after "token:".';
    return draw();
  }
  saveToken(token);
  state.hasToken = true;
  state.error = '';
  startLive();
  void refresh();
}

function disconnect(): void {
  forgetToken();
  stopLive();
  state.hasToken = false;
  state.notice = '';
  draw();
}

function route(): void {
  const next = routeFromHash(location.hash);
  state.page = next.page;
  state.mailId = next.mailId;
  draw();
  void refresh();
  document.getElementById('main')?.focus({ preventScroll: true });
}

/** j/k move through a folder, i s c p t switch pages, r and f reply and forward, Escape goes back. */
function onKey(e: KeyboardEvent): void {
  const target = e.target as HTMLElement;
  if (!state.hasToken || e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
  const page = NAV.find(([, , key]) => key === e.key);
  if (page !== undefined) return void (location.hash = `#${page[0]}`);
  if (e.key === 'j' || e.key === 'k') {
    const links = [...document.querySelectorAll<HTMLAnchorElement>('.mail-link')];
    if (links.length === 0) return;
    const at = links.indexOf(document.activeElement as HTMLAnchorElement);
    links[Math.min(links.length - 1, Math.max(0, at + (e.key === 'j' ? 1 : -1)))].focus();
    return e.preventDefault();
  }
  if (state.page === 'mail' && state.open !== undefined) {
    if (e.key === 'r' && state.open.message.folder === 'inbox') { state.draft = replyDraft(state.open); location.hash = '#compose'; }
    if (e.key === 'f') { state.draft = forwardDraft(state.open); location.hash = '#compose'; }
    if (e.key === 'Escape') location.hash = `#${state.open.message.folder}`;
  }
}

window.addEventListener('hashchange', route);
document.addEventListener('keydown', onKey);
document.addEventListener('paste', onPaste);
state.hasToken = savedToken() !== undefined;
if (state.hasToken) startLive();
route();
