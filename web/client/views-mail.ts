import { html, nothing, type TemplateResult } from 'lit-html';
import type { MailSummary } from './api.js';
import type { OpenMail, State } from './state.js';

/** The folders (inbox, sent with delivery status) and one mail, read as text or sanitised HTML. */
export interface MailActions {
  reply(): void;
  forward(): void;
  toggleHtml(): void;
  remove(): void;
}

function when(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toLocaleString();
}

/** queued / sending / delivered / failed, with the reason when it failed. */
export function deliveryBadge(status: string | undefined, reason?: string): TemplateResult {
  const label = status ?? 'unknown';
  return html`<span class="badge badge-${label}" data-status=${label} title=${reason ?? label}>${label}${reason !== undefined ? html`: ${reason}` : nothing}</span>`;
}

function row(mail: MailSummary): TemplateResult {
  const who = mail.folder === 'inbox' ? mail.from ?? '' : `to ${mail.to ?? ''}`;
  return html`<li class="mail-row ${mail.folder === 'inbox' && mail.read === false ? 'unread' : ''}" data-id=${mail.id}>
    <a href="#mail/${mail.id}" class="mail-link">
      <span class="num" title="Its number: umbra client read ${mail.folder === 'sent' ? '--sent ' : ''}${mail.number}">${mail.number}</span>
      <span class="who">${who}</span>
      <span class="subject">${mail.subject === '' ? '(no subject)' : mail.subject}</span>
      <span class="when">${when(mail.received_ms ?? mail.created_ms)}</span>
      ${mail.folder === 'sent' ? deliveryBadge(mail.status, mail.reason) : nothing}
    </a>
  </li>`;
}

export function folderView(state: State): TemplateResult {
  const sent = state.page === 'sent';
  const items = sent ? state.sent : state.inbox;
  const title = sent ? 'Sent' : 'Inbox';
  return html`<section aria-labelledby="folder-title">
    <h1 id="folder-title">${title} <span class="count">(${items.length})</span></h1>
    ${items.length === 0
      ? html`<p class="empty">${sent ? 'Nothing sent yet.' : 'No mail yet. New mail appears here as it arrives.'}</p>`
      : html`<ul class="mail-list" id="${sent ? 'sent' : 'inbox'}-list">${[...items].reverse().map(row)}</ul>`}
  </section>`;
}

function body(mail: OpenMail, actions: MailActions): TemplateResult {
  if (mail.html === undefined) return html`<pre class="mail-text">${mail.message.text}</pre>`;
  const toggle = html`<p class="html-note">
    This mail has an HTML part${mail.html.blocked > 0 ? html`; <strong>${mail.html.blocked} remote item${mail.html.blocked === 1 ? '' : 's'} blocked</strong>` : nothing}.
    <button type="button" @click=${actions.toggleHtml}>${mail.showHtml ? 'Show plain text' : 'Show HTML'}</button>
  </p>`;
  if (!mail.showHtml) return html`${toggle}<pre class="mail-text">${mail.message.text}</pre>`;
  // An empty sandbox: no script, an opaque origin; the page's CSP still forbids every remote load.
  return html`${toggle}<iframe class="mail-html" sandbox="" referrerpolicy="no-referrer" title="The mail's HTML" .srcdoc=${mail.html.html}></iframe>`;
}

export function mailView(state: State, actions: MailActions): TemplateResult {
  const mail = state.open;
  if (mail === undefined || mail.message.id !== state.mailId) return html`<p class="empty">Loading…</p>`;
  const m = mail.message;
  return html`<article class="mail" aria-labelledby="mail-subject">
    <h1 id="mail-subject">${m.subject === '' ? '(no subject)' : m.subject}</h1>
    <dl class="headers">
      <dt>From</dt><dd>${m.from}</dd>
      <dt>To</dt><dd>${m.to}</dd>
      <dt>Date</dt><dd>${m.date}</dd>
      <dt>Number</dt><dd class="num-full">${m.number} <span class="hint">(umbra client read ${m.folder === 'sent' ? '--sent ' : ''}${m.number})</span></dd>
      ${m.folder === 'sent' ? html`<dt>Delivery</dt><dd>${deliveryBadge(m.status, m.reason)}</dd>` : nothing}
    </dl>
    <div class="actions">
      ${m.folder === 'inbox' ? html`<button type="button" @click=${actions.reply} title="Reply (r)">Reply</button>` : nothing}
      <button type="button" @click=${actions.forward} title="Forward (f)">Forward</button>
      <button type="button" class="danger" @click=${actions.remove}>Delete</button>
    </div>
    ${body(mail, actions)}
    ${m.attachments.length === 0 ? nothing : html`<h2>Attachments</h2><ul>${m.attachments.map((file) => html`<li>${file.filename} (${file.content_type}, ${file.size} bytes)</li>`)}</ul>`}
  </article>`;
}
