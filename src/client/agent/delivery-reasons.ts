import type { FailCause } from '../../traffic/resend.js';

/**
 * What a sent mail's status says while it waits and when it fails (docs/client.md, "Acknowledgements
 * and resends"): one sentence a user understands, naming the recipient, never a key or an address.
 */
function day(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

function windowText(windowMs: number): string {
  const days = windowMs / 86_400_000;
  if (days >= 1 && Number.isInteger(days)) return `${days}-day`;
  const hours = windowMs / 3_600_000;
  if (hours >= 1 && Number.isInteger(hours)) return `${hours}-hour`;
  return `${Math.round(windowMs / 1000)}-second`;
}

/** The recipient's servers are not in the consensus now. */
export function waitingForServerReason(name: string, servers: readonly string[], untilMs: number): string {
  const which = servers.length === 1 ? `its server ${servers[0]} is not` : `none of its servers (${servers.join(', ') || 'none'}) is`;
  return `waiting for ${name}'s server: ${which} in the network now; the mail goes as soon as it is back (tried until ${day(untilMs)})`;
}

/** A copy was not acknowledged in time: another goes after the backoff. */
export function waitingForAckReason(name: string, copies: number, untilMs: number): string {
  const sent = copies === 1 ? 'one copy' : `${copies} copies`;
  return `waiting for ${name}'s server: no acknowledgement after ${sent} (${name} may not have read it yet, be offline, or the server down); sending again until ${day(untilMs)}`;
}

/** The message can no longer arrive, or used up the copies the settings allow. */
export function failedReason(name: string, cause: FailCause, attempts: number, windowMs: number, sentNumber: number): string {
  const again = `\`umbra client resend ${sentNumber}\` sends it again`;
  if (cause === 'copies') {
    const copies = attempts === 1 ? 'copy' : 'copies';
    return `no acknowledgement after ${attempts} ${copies} of the message (${name} may be offline, or ${name}'s server down); ${again}`;
  }
  return `not delivered within the ${windowText(windowMs)} retention window: ${name}'s server was unreachable or ${name} offline the whole time; ${again}`;
}
