import type { ParsedMail } from 'mailparser';
import type { SMTPServerSession } from 'smtp-server';
import type { ClientAgent, SendRequest } from '../agent/types.js';

/**
 * Ordinary email at the bridge (docs/bridge.md, "Ordinary email through a relay"): an address
 * outside Umbra is taken at RCPT only while a relay is set, and the message then goes out through
 * the relay only when it asks for it with `X-Umbra-Deliver: external`. Such mail is not private.
 */
export const DELIVER_HEADER = 'x-umbra-deliver';

/** The RCPT refusal for an ordinary address while no relay is set (`reason`: why it is not an Umbra address). */
export function noRelayText(reason: string): string {
  return `${reason}; ordinary email goes out only through a relay you set (umbra client relay set), for a message marked "X-Umbra-Deliver: external", and is not private`;
}

/** An SMTP reply with its code. */
function reply(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

/** Lower-case addresses a To or Cc header names. */
function headerAddresses(header: ParsedMail['to']): Set<string> {
  const objects = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return new Set(objects.flatMap((object) => object.value.flatMap((entry) => [entry.address, ...(entry.group ?? []).map((g) => g.address)])).filter((a): a is string => a !== undefined).map((a) => a.toLowerCase()));
}

/**
 * A message with ordinary recipients: sent through the relay when it asks for it and names only
 * ordinary addresses; refused otherwise, saying why. The reply line.
 */
export async function submitExternal(agent: ClientAgent, parsed: ParsedMail, mail: Omit<SendRequest, 'to' | 'cc' | 'bcc'>, session: SMTPServerSession, outside: number): Promise<string> {
  const asked = String(parsed.headers.get(DELIVER_HEADER) ?? '').trim().toLowerCase() === 'external';
  const first = session.envelope.rcptTo.find(() => true)?.address ?? '';
  if (!asked) {
    throw reply(550, `5.7.1 not sent: ${first.slice(0, 200)} is not an Umbra contact. To send this one message as ordinary email through your relay (NOT private: the relay and the recipients' servers read it and see who wrote to whom), add the header "X-Umbra-Deliver: external"`);
  }
  if (outside < session.envelope.rcptTo.length) {
    throw reply(550, '5.7.1 not sent: a message goes either to Umbra contacts (private) or, marked external, to ordinary addresses (not private), never both: send two messages');
  }
  const to = headerAddresses(parsed.to);
  const cc = headerAddresses(parsed.cc);
  const fields = { to: [] as string[], cc: [] as string[], bcc: [] as string[] };
  for (const { address } of session.envelope.rcptTo) (to.has(address.toLowerCase()) ? fields.to : cc.has(address.toLowerCase()) ? fields.cc : fields.bcc).push(address);
  const result = await agent.sendExternal({ ...mail, ...fields });
  return `2.0.0 sent as sent #${result.number} through your relay as ordinary email: NOT private`;
}
