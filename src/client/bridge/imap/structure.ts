import addressparser from 'nodemailer/lib/addressparser/index.js';
import { lineCount, parseParams, type MimePart } from './mime.js';
import { nstr, paren, str, type Chunk } from './response.js';

/**
 * ENVELOPE and BODY/BODYSTRUCTURE of a message (RFC 3501 section 7.4.2). Header values go out as
 * they are in the message (encoded words included): the mail program decodes them.
 */
function first(part: MimePart, name: string): string | undefined {
  return part.fields.get(name)?.[0];
}

type Address = { name?: string; address?: string; group?: Address[] };

function addressList(value: string | undefined): Chunk[] {
  if (value === undefined || value.trim() === '') return ['NIL'];
  const parsed = addressparser(value) as Address[];
  const items: Chunk[][] = [];
  const one = (a: Address): void => {
    const at = (a.address ?? '').lastIndexOf('@');
    const mailbox = at < 0 ? a.address ?? '' : a.address!.slice(0, at);
    const host = at < 0 ? undefined : a.address!.slice(at + 1);
    items.push(paren([nstr(a.name || undefined), ['NIL'], nstr(mailbox), nstr(host)]));
  };
  for (const a of parsed) {
    if (a.group !== undefined) {
      items.push(paren([['NIL'], ['NIL'], nstr(a.name ?? ''), ['NIL']]));
      a.group.forEach(one);
      items.push(paren([['NIL'], ['NIL'], ['NIL'], ['NIL']]));
    } else one(a);
  }
  if (items.length === 0) return ['NIL'];
  const out: Chunk[] = ['('];
  for (const item of items) out.push(...item);
  out.push(')');
  return out;
}

export function envelope(part: MimePart): Chunk[] {
  const from = first(part, 'from');
  return paren([
    nstr(first(part, 'date')),
    nstr(first(part, 'subject')),
    addressList(from),
    addressList(first(part, 'sender') ?? from),
    addressList(first(part, 'reply-to') ?? from),
    addressList(first(part, 'to')),
    addressList(first(part, 'cc')),
    addressList(first(part, 'bcc')),
    nstr(first(part, 'in-reply-to')),
    nstr(first(part, 'message-id')),
  ]);
}

function paramList(params: ReadonlyArray<readonly [string, string]>): Chunk[] {
  if (params.length === 0) return ['NIL'];
  return paren(params.flatMap(([k, v]) => [str(k.toUpperCase()), str(v)]));
}

function disposition(part: MimePart): Chunk[] {
  const value = first(part, 'content-disposition');
  if (value === undefined) return ['NIL'];
  const parsed = parseParams(value);
  return paren([str(parsed.value.toUpperCase()), paramList(parsed.params)]);
}

/** BODYSTRUCTURE (extended) or BODY (basic) of a part. */
export function bodyStructure(part: MimePart, extended: boolean): Chunk[] {
  if (part.type === 'multipart') {
    const children: Chunk[] = ['('];
    const kids = part.children.length > 0 ? part.children : [];
    for (const child of kids) children.push(...bodyStructure(child, extended));
    if (kids.length === 0) children.push(...bodyStructure({ ...part, type: 'text', subtype: 'plain', params: [], children: [] }, extended));
    children.push(' ', ...str(part.subtype.toUpperCase()));
    if (extended) children.push(' ', ...paramList(part.params), ' ', ...disposition(part), ' ', ...nstr(first(part, 'content-language')), ' ', ...nstr(first(part, 'content-location')));
    children.push(')');
    return children;
  }
  const fields: Chunk[][] = [
    str(part.type.toUpperCase()),
    str(part.subtype.toUpperCase()),
    paramList(part.params),
    nstr(first(part, 'content-id')),
    nstr(first(part, 'content-description')),
    str((first(part, 'content-transfer-encoding') ?? '7bit').toUpperCase()),
    [String(part.body.length)],
  ];
  if (part.type === 'message' && part.subtype === 'rfc822' && part.message !== undefined) {
    fields.push(envelope(part.message), bodyStructure(part.message, extended), [String(lineCount(part.body))]);
  } else if (part.type === 'text') fields.push([String(lineCount(part.body))]);
  if (extended) fields.push(nstr(first(part, 'content-md5')), disposition(part), nstr(first(part, 'content-language')), nstr(first(part, 'content-location')));
  return paren(fields);
}
