/**
 * The client agent (floor 3, docs/client.md): keystore, contacts, local mail store, the running
 * agent (Poisson traffic, sending with ACKs and resends, mailbox polls). What `umbra client …` calls.
 */
export { startClient, type AgentStatus, type ClientAgent, type ClientEvent, type PollReport, type SendRequest, type SendResult, type StartOptions } from './agent/index.js';
export { KEYSTORE_FILE, LOCK_FILE, MAIL_DB_FILE, type ClientDeps } from './directory.js';
export { DEFAULT_GRACE_DAYS, MAX_GRACE_DAYS, type Client, type ContactInfo, type InboxEntry, type MailView, type SentEntry } from './local-client.js';
export { fetchCurrentConsensus, initClient, openClient, type InitOptions, type InitResult } from './setup.js';
export { ClientError, type ClientErrorCode } from './errors.js';
export { API_FILE, contactView, mailSummary, messageView, OPENAPI_DOCUMENT, readApiEndpoint, removeApiEndpoint, startApiServer, writeApiEndpoint, type ApiEndpoint, type ApiServer } from './api/index.js';
export { DEFAULT_KDF, MIN_MEM_LIMIT, MIN_OPS_LIMIT, type KdfParams } from './keystore.js';
export {
  buildMail,
  formatAddress,
  formatDate,
  parseMail,
  syntheticAddress,
  SYNTHETIC_DOMAIN,
  type Attachment,
  type MailAddress,
  type MailDraft,
  type ParsedAttachment,
  type ParsedMail,
} from './mail-format.js';
export type { InboxMeta, MailRecord, SentMeta, SentStatus } from './mail-store.js';
export { providerForServers } from './routes.js';
export {
  DEFAULT_ACK_TIMEOUT_EPOCHS,
  DEFAULT_BUCKETS,
  DEFAULT_MIRRORS_REQUIRED,
  DEFAULT_POLLS_PER_EPOCH,
  type AuthoritySettings,
  type ClientSettings,
} from './settings.js';
export { RELAY_TLS_MODES, type RelayConfig, type RelayTls, type RelayView } from './relay.js';
export type { ExternalSendRequest, ExternalSendResult } from './relay-send.js';
export { startBridge, startImapServer, matchRecipient, MAX_IMAP_CONNECTIONS, MAX_IMAP_LITERAL, MAX_SUBMISSION_BYTES, type Bridge, type BridgeCredentials, type BridgeEndpoints, type ImapServer } from './bridge/index.js';
export { FolderError, STANDARD_FOLDERS, type FolderInfo, type FolderMessage, type MailFolders } from './mail-folders.js';
