/**
 * RFC 5322 / MIME messages as the client writes and reads them (docs/client.md, "Mail format"):
 * building in mail-build.ts, parsing in mail-parse.ts.
 */
export {
  buildMail,
  formatAddress,
  formatDate,
  SYNTHETIC_DOMAIN,
  syntheticAddress,
  type Attachment,
  type MailAddress,
  type MailDraft,
} from './mail-build.js';
export { decodeEncodedWords, parseMail, type ParsedAttachment, type ParsedMail } from './mail-parse.js';
