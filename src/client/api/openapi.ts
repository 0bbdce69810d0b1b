/**
 * The OpenAPI 3.1 document of the agent's local API (docs/api.md). The server validates every
 * request body and query against the schemas here, and a test keeps docs/api/openapi.json equal to
 * it, so the document cannot drift from what is served.
 */
const problem = { $ref: '#/components/responses/Problem' };
const json = (schema: Record<string, unknown>) => ({ content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((status) => [String(status), problem]));

const schemas = {
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details; `code` is stable and says what went wrong.',
    required: ['type', 'title', 'status', 'code'],
    properties: {
      type: { type: 'string', description: '`urn:umbra:problem:<code>`' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      code: { type: 'string' },
    },
  },
  Attachment: {
    type: 'object',
    additionalProperties: false,
    required: ['filename', 'data'],
    properties: {
      filename: { type: 'string', minLength: 1, maxLength: 255 },
      content_type: { type: 'string', maxLength: 255 },
      data: { type: 'string', contentEncoding: 'base64', description: 'the file, base64' },
    },
  },
  SendRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['to', 'subject', 'body'],
    description: 'Each recipient gets its own envelope over its own session. At most 100 recipients in all; a contact named twice gets one copy, in the first of to, cc, bcc that names it. `to` may be empty when cc or bcc is not (the mail then says `To: undisclosed-recipients:;`).',
    properties: {
      to: { description: 'contact names or keys', oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 100 }] },
      cc: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 100, description: 'seen by every recipient' },
      bcc: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 100, description: 'hidden: each Bcc recipient\'s copy names only itself in its Bcc header; To and Cc recipients\' copies have none' },
      subject: { type: 'string', maxLength: 998 },
      body: { type: 'string' },
      attachments: { type: 'array', items: ref('Attachment'), maxItems: 100 },
      external: { type: 'boolean', description: 'true: send this one mail as ordinary, NOT private email through the relay the user set (`umbra client relay set`), to plain addresses (someone@example.com); answered 200 with ExternalSendResult. 422 no-relay while none is set, 502 relay-failed when the relay does not take it.' },
    },
  },
  ExternalSendResult: {
    type: 'object',
    required: ['status', 'id', 'number', 'accepted', 'rejected', 'private', 'warning'],
    properties: {
      status: { const: 'sent' },
      id: { type: 'integer', description: 'the mail in the sent folder' },
      number: { type: 'integer', description: 'its number in the sent folder' },
      accepted: { type: 'array', items: { type: 'string' }, description: 'addresses the relay took' },
      rejected: { type: 'array', items: { type: 'string' }, description: 'addresses the relay refused' },
      private: { const: false },
      warning: { type: 'string', description: 'that this mail was not private, and why' },
    },
  },
  SendResult: {
    type: 'object',
    required: ['status', 'id', 'number', 'message_id', 'fragments', 'estimated_delivery'],
    properties: {
      status: { enum: ['queued', 'waiting'], description: '`waiting`: none of the recipient\'s servers is in the network now; the mail goes when one is back (see `reason`)' },
      reason: { type: 'string', description: 'a waiting mail: what it waits for, and until when' },
      id: { type: 'integer', description: 'the mail in the sent folder' },
      number: { type: 'integer', description: 'its number in the sent folder (`umbra client resend N`)' },
      message_id: { type: 'string', description: 'the first recipient\'s envelope' },
      fragments: { type: 'integer', description: 'Sphinx packets of one copy to every recipient (the sum over recipients)' },
      recipients: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'key', 'field', 'message_id', 'fragments'],
          properties: { name: { type: 'string' }, key: { type: 'string' }, field: { enum: ['to', 'cc', 'bcc'] }, message_id: { type: 'string' }, fragments: { type: 'integer' } },
        },
      },
      estimated_delivery: { type: 'string', format: 'date-time', description: 'when the last packet should reach the recipient\'s server: the queue ahead at the send rate, plus the mean mixing delays' },
    },
  },
  RetrieveRequest: {
    type: 'object',
    additionalProperties: false,
    properties: { since_id: { type: 'integer', minimum: 0, description: 'return inbox mail with a larger id' } },
  },
  RetrieveResult: {
    type: 'object',
    required: ['messages', 'polls'],
    properties: {
      messages: { type: 'array', items: ref('MailSummary') },
      polls: { type: 'object', description: 'the agent\'s own poll schedule, which no caller changes', properties: { done: { type: 'integer' }, last_ms: { type: 'integer' } } },
    },
  },
  SentRecipient: {
    type: 'object',
    description: 'one recipient of a sent mail and the delivery of its envelope',
    required: ['name', 'key', 'field', 'status', 'status_ms', 'attempts'],
    properties: {
      name: { type: 'string' },
      key: { type: 'string' },
      field: { enum: ['to', 'cc', 'bcc'] },
      status: { enum: ['queued', 'sending', 'waiting', 'delivered', 'failed'], description: 'delivered: the recipient\'s ACK came back; waiting: for the recipient\'s server (see reason)' },
      status_ms: { type: 'integer' },
      attempts: { type: 'integer', description: 'copies of the envelope sent so far' },
      reason: { type: 'string', description: 'why the envelope waits or failed' },
    },
  },
  MailSummary: {
    type: 'object',
    required: ['id', 'number', 'folder', 'subject'],
    properties: {
      id: { type: 'integer', description: 'the mail\'s id in the local store: stable, shared by both folders, what /api/v1/messages/{id} takes' },
      number: { type: 'integer', minimum: 1, description: 'the mail\'s number in its folder, as `umbra client inbox` and `sent` show it: inbox #1 is the first mail received, sent #1 the first sent; never reused' },
      folder: { enum: ['inbox', 'sent'] },
      subject: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string', description: 'sent mail: every recipient, "bob, carol (cc), dave (bcc)"' },
      received_ms: { type: 'integer' },
      created_ms: { type: 'integer' },
      read: { type: 'boolean' },
      status: { enum: ['queued', 'sending', 'waiting', 'delivered', 'failed'], description: 'sent mail: the sum of its recipients\' (delivered when all are; failed once all are final and one failed)' },
      reason: { type: 'string', description: 'a waiting or failed mail: why, in words for the user' },
      size: { type: 'integer' },
      recipients: { type: 'array', items: ref('SentRecipient'), description: 'sent mail: each recipient\'s delivery' },
      private: { const: false, description: 'present (false) on ordinary email sent through the relay' },
      warning: { type: 'string', description: 'ordinary email sent through the relay: that it was not private' },
    },
  },
  MailboxPage: {
    type: 'object',
    required: ['total', 'offset', 'limit', 'items'],
    properties: { total: { type: 'integer' }, offset: { type: 'integer' }, limit: { type: 'integer' }, items: { type: 'array', items: ref('MailSummary') } },
  },
  Message: {
    type: 'object',
    required: ['id', 'number', 'folder', 'from', 'to', 'subject', 'date', 'text', 'attachments', 'raw'],
    properties: {
      id: { type: 'integer', description: 'the mail\'s id in the local store: stable, shared by both folders, what /api/v1/messages/{id} takes' },
      number: { type: 'integer', minimum: 1, description: 'the mail\'s number in its folder, as `umbra client inbox` and `sent` show it: inbox #1 is the first mail received, sent #1 the first sent; never reused' },
      folder: { enum: ['inbox', 'sent'] },
      from: { type: 'string' },
      to: { type: 'string' },
      cc: { type: 'string', description: 'the Cc header, when the mail has one' },
      bcc: { type: 'string', description: 'the Bcc header: in the sender\'s copy every Bcc recipient, in a Bcc recipient\'s copy only itself' },
      subject: { type: 'string' },
      date: { type: 'string' },
      text: { type: 'string' },
      attachments: { type: 'array', items: { type: 'object', properties: { filename: { type: 'string' }, content_type: { type: 'string' }, size: { type: 'integer' } } } },
      raw: { type: 'string', contentEncoding: 'base64', description: 'the RFC 5322 message' },
      status: { enum: ['queued', 'sending', 'waiting', 'delivered', 'failed'], description: 'sent mail: its delivery' },
      reason: { type: 'string', description: 'sent mail that waits or failed: why' },
      recipients: { type: 'array', items: ref('SentRecipient'), description: 'sent mail: each recipient\'s delivery' },
      private: { const: false, description: 'present (false) on ordinary email sent through the relay' },
      warning: { type: 'string', description: 'ordinary email sent through the relay: that it was not private' },
      read: { type: 'boolean', description: 'inbox mail: always true once fetched here (IMAP shows it \\Seen too)' },
    },
  },
  Contact: {
    type: 'object',
    required: ['name', 'key', 'safety_number', 'card_uri'],
    properties: { name: { type: 'string' }, key: { type: 'string' }, safety_number: { type: 'string' }, servers: { type: 'array', items: { type: 'string' } }, card_uri: { type: 'string' } },
  },
  AddContactRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['card_uri'],
    properties: { card_uri: { type: 'string', minLength: 1, maxLength: 4096 } },
  },
  BridgeSettings: {
    type: 'object',
    required: ['host', 'smtp', 'imap', 'username', 'password', 'certificate_sha1'],
    properties: {
      host: { const: '127.0.0.1' },
      smtp: { type: 'object', properties: { port: { type: 'integer' }, security: { const: 'STARTTLS' } } },
      imap: { type: 'object', properties: { port: { type: 'integer' }, security: { const: 'STARTTLS' } } },
      username: { type: 'string' },
      password: { type: 'string' },
      certificate_sha1: { type: 'string', description: 'the fingerprint of the bridge\'s self-signed certificate, to compare when a mail program asks' },
    },
  },
  Status: { type: 'object', description: 'connection, epoch, queue, last poll, cover rates, loops, high alert (the agent\'s status())' },
} as const;

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Umbra client agent API',
    version: '1.0.0',
    description: 'The local API of one user\'s client agent, on 127.0.0.1 only, behind a bearer token. All cryptography stays in the agent.',
  },
  servers: [{ url: 'http://127.0.0.1:{port}', variables: { port: { default: '7780' } } }],
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/zk-send': {
      post: {
        operationId: 'zkSend', summary: 'Queue a mail',
        requestBody: { required: true, ...json(ref('SendRequest')) },
        responses: { '202': { description: 'queued', ...json(ref('SendResult')) }, '200': { description: 'external: handed to the relay (not private)', ...json(ref('ExternalSendResult')) }, ...errors(400, 401, 413, 415, 422, 502, 503) },
      },
    },
    '/api/v1/zk-retrieve': {
      post: {
        operationId: 'zkRetrieve', summary: 'Mail the agent\'s scheduled private retrieval has fetched (no extra network request)',
        requestBody: { required: false, ...json(ref('RetrieveRequest')) },
        responses: { '200': { description: 'new mail', ...json(ref('RetrieveResult')) }, ...errors(400, 401, 415) },
      },
    },
    '/api/v1/zk-mailbox-db': {
      get: {
        operationId: 'zkMailboxDb', summary: 'The local mailbox database, a page at a time, by ascending number',
        parameters: [
          { name: 'folder', in: 'query', schema: { enum: ['inbox', 'sent'], default: 'inbox' } },
          { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
          { name: 'number', in: 'query', description: 'only the mail with this number in the folder (no items when there is none): how `umbra client read N` finds inbox mail N', schema: { type: 'integer', minimum: 1 } },
        ],
        responses: { '200': { description: 'a page', ...json(ref('MailboxPage')) }, ...errors(400, 401) },
      },
    },
    '/api/v1/messages/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }],
      get: { operationId: 'getMessage', summary: 'One mail (an inbox mail is marked read: the read flag the mail bridge\'s IMAP shows as \\Seen)', responses: { '200': { description: 'the mail', ...json(ref('Message')) }, ...errors(400, 401, 404) } },
      delete: { operationId: 'deleteMessage', summary: 'Delete a mail from the local store', responses: { '204': { description: 'deleted' }, ...errors(400, 401, 404) } },
    },
    '/api/v1/messages/{id}/resend': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }],
      post: {
        operationId: 'resendMessage', summary: 'Send a failed sent mail again (each failed envelope, the same sealed frame, back to queued, with a new delivery window)',
        responses: { '202': { description: 'queued again', ...json(ref('SendResult')) }, ...errors(400, 401, 404, 409, 422, 503) },
      },
    },
    '/api/v1/contacts': {
      get: { operationId: 'listContacts', summary: 'Contacts with their safety numbers', responses: { '200': { description: 'contacts', ...json({ type: 'array', items: ref('Contact') }) }, ...errors(401) } },
      post: {
        operationId: 'addContact', summary: 'Add a contact from its card URI',
        requestBody: { required: true, ...json(ref('AddContactRequest')) },
        responses: { '201': { description: 'added', ...json(ref('Contact')) }, ...errors(400, 401, 415, 422) },
      },
    },
    '/api/v1/card': {
      get: { operationId: 'ownCard', summary: 'The user\'s own card', responses: { '200': { description: 'the card', ...json({ type: 'object', required: ['card_uri'], properties: { card_uri: { type: 'string' } } }) }, ...errors(401) } },
    },
    '/api/v1/status': {
      get: { operationId: 'status', summary: 'Connection, epoch, queue, last poll, cover rates, loops, high alert', responses: { '200': { description: 'status', ...json(ref('Status')) }, ...errors(401) } },
    },
    '/api/v1/bridge': {
      get: {
        operationId: 'bridgeSettings', summary: 'The mail bridge\'s settings for a mail program, with its password',
        responses: { '200': { description: 'the settings', ...json(ref('BridgeSettings')) }, ...errors(401, 404) },
      },
    },
    '/api/v1/events': {
      get: {
        operationId: 'events', summary: 'Server-sent events: `received`, `status` (delivery changes), `resend`, each with the mail\'s `id` and its `number` in its folder; `alert` (high alert: the loops of an epoch lost beyond the normal rate, the suspect nodes by public name)',
        responses: { '200': { description: 'an event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors(401) },
      },
    },
    '/api/v1/openapi.json': {
      get: { operationId: 'openapi', summary: 'This document', security: [], responses: { '200': { description: 'the document', ...json({ type: 'object' }) } } },
    },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: '`umbra client --dir C api` prints the token' } },
    responses: { Problem: { description: 'a problem', content: { 'application/problem+json': { schema: ref('Problem') } } } },
    schemas,
  },
} as const;
