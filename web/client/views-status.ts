import { html, nothing, type TemplateResult } from 'lit-html';
import type { State, Status } from './state.js';

/** The agent's status (GET /api/v1/status), and the form that takes the API token once. */
function connection(name: string, connected: boolean): TemplateResult {
  return html`${name} <span class="badge ${connected ? 'badge-delivered' : 'badge-failed'}">${connected ? 'connected' : 'not connected'}</span>`;
}

function ago(nowMs: number, thenMs: number | undefined): string {
  if (thenMs === undefined) return 'not yet';
  const seconds = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  return `${seconds} s ago (${new Date(thenMs).toLocaleTimeString()})`;
}

/** The alert row: normal, or high alert with the suspects and the mixes left out of paths. */
function alertCell(alert: Status['alert']): TemplateResult {
  if (!alert.high) return html`<span class="badge badge-delivered">normal</span>${alert.alarms > 0 ? ` (${alert.alarms} alarms so far)` : ''}`;
  const suspects = alert.suspects.map((x) => (x.node === undefined ? `all paths (${x.lost} of ${x.loops} loops lost)` : `${x.node}, layer ${x.layer} (${x.lost} of ${x.loops} loops lost)`));
  return html`<span class="badge badge-failed" role="alert">high alert</span> loops were lost beyond the normal rate:
    ${suspects.join('; ')}.${alert.avoiding.length > 0 ? ` Paths leave out ${alert.avoiding.join(', ')}.` : ''} More loops are sent until it passes.`;
}

export function statusView(state: State): TemplateResult {
  const s = state.status;
  if (s === undefined) return html`<p class="empty">Loading…</p>`;
  const rows: [string, TemplateResult | string][] = [
    ['Alert', alertCell(s.alert)],
    ['Gateway', connection(s.gateway.name, s.gateway.connected)],
    ['Mailbox server', connection(s.provider.name, s.provider.connected)],
    ['Epoch', `${s.epoch} (consensus of epoch ${s.consensusEpoch})`],
    ['Send stream', `${s.rates.sendPerSecond} packets/s (a real packet when one is queued, else cover)`],
    ['Loop cover', `${s.rates.loopPerSecond} packets/s`],
    ['Drop cover', `${s.rates.dropPerSecond} packets/s`],
    ['Mean mixing delay', `${s.meanDelayMs} ms per hop`],
    ['Queue', `${s.queue} packets waiting; ${s.awaitingAck} mails awaiting acknowledgement`],
    ['Packets sent', Object.entries(s.packets).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['Loops', `${s.loops.sent} sent, ${s.loops.returned} back, ${s.loops.lost} lost${s.loops.meanRttMs !== undefined ? `, mean round trip ${Math.round(s.loops.meanRttMs)} ms` : ''}`],
    ['Last poll', ago(s.nowMs, s.polls.lastMs)],
    ['Polls', `${s.polls.done} done, ${s.polls.failed} failed${s.polls.lastError !== undefined ? ` (last error: ${s.polls.lastError})` : ''}`],
    ['Retrieval', `${s.retrieval.mode}${s.retrieval.partner !== undefined ? ` with ${s.retrieval.partner}` : ''}`],
    ['Inbox', `${s.inbox.total} mails, ${s.inbox.unread} unread`],
  ];
  return html`<section aria-labelledby="status-title">
    <h1 id="status-title">Status</h1>
    <table class="status"><tbody>${rows.map(([k, v]) => html`<tr><th scope="row">${k}</th><td>${v}</td></tr>`)}</tbody></table>
  </section>`;
}

export function tokenView(error: string, submit: (token: string) => void): TemplateResult {
  const onSubmit = (e: Event): void => {
    e.preventDefault();
    submit((document.getElementById('token') as HTMLInputElement).value.trim());
  };
  return html`<section class="token" aria-labelledby="token-title">
    <h1 id="token-title">Connect to your agent</h1>
    <p>This page talks only to your own client agent on this machine. Paste its API token, which
      <code>umbra client --dir DIR api</code> prints. It stays in this tab only and is sent in a header, never in an address.</p>
    <form @submit=${onSubmit}>
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="off" required autofocus />
      <div class="actions"><button type="submit" class="primary">Connect</button></div>
    </form>
    ${error === '' ? nothing : html`<p class="error" role="alert">${error}</p>`}
  </section>`;
}
