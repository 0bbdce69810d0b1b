import { html, nothing, svg, type TemplateResult } from 'lit-html';
import qrcode from 'qrcode-generator';
import type { Contact } from './api.js';
import { IMAGE_TYPES } from './qr-image.js';
import type { State } from './state.js';

/**
 * Contacts: one's own card as text and as a QR code, adding a contact from a card URI or from a
 * picture of its QR code, and each contact's safety number beside the one the contact reads out,
 * so the two can be compared.
 */
export interface ContactActions {
  add(uri: string): void;
  /** A picture of a card's QR code, chosen, dropped or pasted. */
  addImage(file: File): void;
  compare(name: string, spoken: string): void;
}

/** What the user typed as the contact's number, per contact (kept while the page is open). */
const spokenNumbers = new Map<string, string>();

/** The card as an SVG QR code: one path of dark modules, a quiet zone of 4 modules. */
export function qrSvg(text: string): TemplateResult {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const count = qr.getModuleCount();
  let path = '';
  for (let r = 0; r < count; r++) for (let c = 0; c < count; c++) if (qr.isDark(r, c)) path += `M${c + 4} ${r + 4}h1v1h-1z`;
  const size = count + 8;
  return html`<svg class="qr" role="img" aria-label="QR code of your card" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges" xmlns="http://www.w3.org/2000/svg">
    ${svg`<rect width=${size} height=${size} fill="#fff"></rect><path d=${path} fill="#000"></path>`}
  </svg>`;
}

/** Digits in groups of five, as people read them aloud. */
export function grouped(number: string): string {
  return number.replace(/\s+/g, '').replace(/(.{5})(?=.)/g, '$1 ');
}

function digitsOf(text: string): string {
  return text.replace(/\D/g, '');
}

function contactRow(contact: Contact, actions: ContactActions): TemplateResult {
  const spoken = spokenNumbers.get(contact.name) ?? '';
  const verdict = spoken === '' ? nothing
    : digitsOf(spoken) === digitsOf(contact.safety_number)
      ? html`<p class="match" role="status">The numbers match: no one sits between you and ${contact.name}.</p>`
      : html`<p class="mismatch" role="alert">The numbers differ: do not trust this card until you find out why.</p>`;
  const onInput = (e: Event): void => {
    spokenNumbers.set(contact.name, (e.target as HTMLInputElement).value);
    actions.compare(contact.name, (e.target as HTMLInputElement).value);
  };
  return html`<li class="contact" data-name=${contact.name}>
    <h3>${contact.name}</h3>
    <div class="side-by-side">
      <div><span class="label">Your screen shows</span><code class="safety-number">${grouped(contact.safety_number)}</code></div>
      <div>
        <label for="spoken-${contact.name}" class="label">${contact.name}'s screen shows</label>
        <input id="spoken-${contact.name}" inputmode="numeric" autocomplete="off" placeholder="type the number ${contact.name} reads out" .value=${spoken} @input=${onInput} />
      </div>
    </div>
    ${verdict}
  </li>`;
}

export function contactsView(state: State, actions: ContactActions): TemplateResult {
  const submit = (e: Event): void => {
    e.preventDefault();
    const input = document.getElementById('card-uri') as HTMLTextAreaElement;
    actions.add(input.value.trim());
  };
  const choose = (e: Event): void => {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = ''; // the same file can be chosen again
    if (file !== undefined) actions.addImage(file);
  };
  const dragOver = (e: DragEvent): void => {
    if (e.dataTransfer?.types.includes('Files') === true) e.preventDefault();
  };
  const drop = (e: DragEvent): void => {
    const file = e.dataTransfer?.files[0];
    if (file === undefined) return;
    e.preventDefault();
    actions.addImage(file);
  };
  const copy = (): void => void navigator.clipboard?.writeText(state.card ?? '').catch(() => undefined);
  return html`<section aria-labelledby="contacts-title">
    <h1 id="contacts-title">Contacts</h1>
    <h2>Your card</h2>
    <p>Give it to the people who should be able to write to you: as text, or let them scan the code.</p>
    ${state.card === undefined ? html`<p>Loading…</p>` : html`<div class="card">
      <textarea id="own-card" readonly rows="4" aria-label="Your card URI">${state.card}</textarea>
      <div><button type="button" @click=${copy}>Copy</button></div>
      ${qrSvg(state.card)}
    </div>`}
    <h2>Add a contact</h2>
    <form class="add-contact" @submit=${submit}>
      <label for="card-uri">Their card (umbra:card:…)</label>
      <textarea id="card-uri" name="card_uri" rows="3" required></textarea>
      <div class="actions"><button type="submit" class="primary">Add contact</button></div>
    </form>
    <div class="qr-drop" @dragover=${dragOver} @drop=${drop}>
      <label for="card-image">Or a picture of their QR code</label>
      <input id="card-image" type="file" accept=${IMAGE_TYPES.join(',')} ?disabled=${state.busy} @change=${choose} />
      <small>A photo or a screenshot (PNG, JPEG, GIF or WebP), chosen here, dropped here or pasted. It is read in this page and goes nowhere else.</small>
    </div>
    <h2>Safety numbers</h2>
    <p>Compare each number with the one on your contact's screen, in person or on a call you trust.</p>
    ${state.contacts.length === 0 ? html`<p class="empty">No contacts yet.</p>` : html`<ul class="contacts">${state.contacts.map((c) => contactRow(c, actions))}</ul>`}
  </section>`;
}
