import { html, nothing, type TemplateResult } from 'lit-html';
import type { Draft, State } from './state.js';

/**
 * Writing a mail: To, Cc, Bcc (names of contacts, separated by commas), subject, text and
 * attachments. The fields go to the API as they are; the agent says which recipients it takes.
 */
export interface ComposeActions {
  edit(field: keyof Draft, value: string): void;
  send(files: FileList | null): void;
}

function field(state: State, actions: ComposeActions, name: 'to' | 'cc' | 'bcc' | 'subject', label: string, hint?: string): TemplateResult {
  return html`<label for="compose-${name}">${label}</label>
    <input id="compose-${name}" name=${name} type="text" autocomplete="off" list=${name === 'subject' ? nothing : 'contact-names'}
      .value=${state.draft[name]} @input=${(e: Event) => actions.edit(name, (e.target as HTMLInputElement).value)}
      aria-describedby=${hint === undefined ? nothing : `compose-${name}-hint`} />
    ${hint === undefined ? nothing : html`<small id="compose-${name}-hint">${hint}</small>`}`;
}

export function composeView(state: State, actions: ComposeActions): TemplateResult {
  const submit = (e: Event): void => {
    e.preventDefault();
    const files = (document.getElementById('compose-files') as HTMLInputElement | null)?.files ?? null;
    actions.send(files);
  };
  return html`<section aria-labelledby="compose-title">
    <h1 id="compose-title">New mail</h1>
    <datalist id="contact-names">${state.contacts.map((c) => html`<option value=${c.name}></option>`)}</datalist>
    <form class="compose" @submit=${submit}>
      ${field(state, actions, 'to', 'To', 'a contact\'s name')}
      ${field(state, actions, 'cc', 'Cc')}
      ${field(state, actions, 'bcc', 'Bcc')}
      ${field(state, actions, 'subject', 'Subject')}
      <label for="compose-body">Text</label>
      <textarea id="compose-body" name="body" rows="12" .value=${state.draft.body} @input=${(e: Event) => actions.edit('body', (e.target as HTMLTextAreaElement).value)}></textarea>
      <label for="compose-files">Attachments</label>
      <input id="compose-files" type="file" multiple />
      <div class="actions"><button type="submit" class="primary" ?disabled=${state.busy}>Send</button></div>
    </form>
  </section>`;
}

/** A file as base64, for the API's attachments. */
export function fileAsBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error ?? new Error('unreadable file'));
    reader.readAsDataURL(file);
  });
}
