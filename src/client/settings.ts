import { fromBase64Url, toBase64Url } from '../codec/bytes.js';
import { intIn } from '../codec/schema.js';
import { MAX_BUCKETS } from '../store/mailbox.js';
import { DEFAULT_CONSENSUS_MINIMUMS, minimumsProblems, type ConsensusMinimums } from '../traffic/consensus-minimums.js';
import { httpsUrlProblems, mirrorEntryProblems } from '../net/pinned-https.js';
import { ClientError } from './errors.js';

/**
 * The client's settings, kept inside the encrypted keystore with the endpoint state
 * (docs/client.md, "Settings"). Everything has a default but the authority.
 */
export interface AuthoritySettings {
  /**
   * "https://host:port" of a directory authority (or a mirror that is one): TLS 1.3, and its certificate
   * must carry one of `publicKeys` (docs/client.md, "Consensus"). Cleartext http:// is refused.
   */
  readonly url: string;
  /** The trusted authorities' Ed25519 public keys (32 bytes each). */
  readonly publicKeys: readonly Uint8Array[];
  /** Signatures a consensus needs; default a majority of publicKeys. */
  readonly threshold?: number;
}

export interface ClientSettings {
  readonly authority: AuthoritySettings;
  /** Buckets an epoch of the provider is split into (must match the providers'); default 16. */
  readonly buckets: number;
  /** Mailbox polls per epoch, at fixed offsets (docs/client.md, "Timers"); default 4. */
  readonly pollsPerEpoch: number;
  /** Epochs after the last fragment of an attempt left before the message is sent again; default 3. */
  readonly ackTimeoutEpochs: number;
  /**
   * Whole-message resends after a timeout before the message is 'failed'; default none: copies go
   * on a backoff until the network's retention window is over (docs/client.md, "Acknowledgements and resends").
   */
  readonly maxResends?: number;
  /** Verify every descriptor's signature in each consensus too (default true). */
  readonly verifyDescriptors: boolean;
  /** The least privacy accepted from a consensus (docs/client.md, "Minimums"). */
  readonly minimums: ConsensusMinimums;
  /** Bucket mode: the most buckets a provider's "too large" may push a fetch to; default 256. */
  readonly maxBuckets: number;
  /** Follow a consensus into another retrieval mode than the one the agent started with; default false. */
  readonly allowRetrievalChange: boolean;
  /**
   * Consensus mirrors the partition check asks besides the authority, over TLS 1.3: "https://host:port"
   * for an authority (pinned to `authority.publicKeys`), "https://host:port#<key>" for another server,
   * a node's status listener for instance, whose certificate must carry <key> (its link key, base64url).
   */
  readonly mirrors: readonly string[];
  /** Mirrors that must confirm each consensus before it is used (0 turns the check off); default 2. */
  readonly mirrorsRequired: number;
}

export const DEFAULT_BUCKETS = 16;
export const DEFAULT_POLLS_PER_EPOCH = 4;
export const DEFAULT_ACK_TIMEOUT_EPOCHS = 3;
export const MAX_POLLS_PER_EPOCH = 60;
export const MAX_RESENDS_LIMIT = 20;
export const DEFAULT_MAX_BUCKETS = 256;
export const DEFAULT_MIRRORS_REQUIRED = 2;
export const MAX_MIRRORS = 16;

export type SettingsInput = Pick<ClientSettings, 'authority'> &
  Partial<Omit<ClientSettings, 'authority' | 'minimums'>> & { readonly minimums?: Partial<ConsensusMinimums> };


/** Every problem with a settings object (empty when there is none). */
export function settingsProblems(settings: ClientSettings): string[] {
  const problems: string[] = [];
  const a = settings.authority;
  if (typeof a !== 'object' || a === null) {
    problems.push('authority is missing');
  } else {
    problems.push(...httpsUrlProblems('authority.url', a.url));
    if (!Array.isArray(a.publicKeys) || a.publicKeys.length === 0 || a.publicKeys.length > 16) {
      problems.push('authority.publicKeys must list 1..16 keys');
    } else if (!a.publicKeys.every((key) => key instanceof Uint8Array && key.length === 32)) {
      problems.push('every authority public key must be 32 bytes');
    }
    // A consensus needs at least a majority of the trusted keys (verifyConsensus refuses less).
    if (a.threshold !== undefined && !intIn(a.threshold, Math.floor((a.publicKeys?.length ?? 0) / 2) + 1, a.publicKeys?.length ?? 0)) {
      problems.push('authority.threshold must be an integer from a majority of the keys to their number');
    }
  }
  if (!intIn(settings.buckets, 1, MAX_BUCKETS)) problems.push(`buckets must be an integer in 1..${MAX_BUCKETS}`);
  if (!intIn(settings.pollsPerEpoch, 1, MAX_POLLS_PER_EPOCH)) {
    problems.push(`pollsPerEpoch must be an integer in 1..${MAX_POLLS_PER_EPOCH}`);
  }
  if (typeof settings.ackTimeoutEpochs !== 'number' || !(settings.ackTimeoutEpochs > 0) || settings.ackTimeoutEpochs > 1000) {
    problems.push('ackTimeoutEpochs must be a number in (0, 1000]');
  }
  if (settings.maxResends !== undefined && !intIn(settings.maxResends, 0, MAX_RESENDS_LIMIT)) {
    problems.push(`maxResends must be an integer in 0..${MAX_RESENDS_LIMIT}`);
  }
  if (typeof settings.verifyDescriptors !== 'boolean') problems.push('verifyDescriptors must be a boolean');
  problems.push(...privacyProblems(settings));
  return problems;
}

function privacyProblems(settings: ClientSettings): string[] {
  const problems = minimumsProblems(settings.minimums);
  if (!intIn(settings.maxBuckets, 1, MAX_BUCKETS) || (intIn(settings.buckets, 1, MAX_BUCKETS) && settings.maxBuckets < settings.buckets)) {
    problems.push(`maxBuckets must be an integer in buckets..${MAX_BUCKETS}`);
  }
  if (typeof settings.allowRetrievalChange !== 'boolean') problems.push('allowRetrievalChange must be a boolean');
  const mirrors = settings.mirrors;
  if (!Array.isArray(mirrors) || mirrors.length > MAX_MIRRORS) {
    problems.push(`mirrors must list 0..${MAX_MIRRORS} https:// URLs`);
  } else if (mirrors.some((entry, i) => mirrorEntryProblems(`mirrors[${i}]`, entry).length > 0)) {
    mirrors.forEach((entry, i) => problems.push(...mirrorEntryProblems(`mirrors[${i}]`, entry)));
  } else if (new Set(mirrors.map(mirrorUrl)).size !== mirrors.length || mirrors.some((entry) => mirrorUrl(entry) === settings.authority?.url)) {
    problems.push('mirrors must differ from each other and from authority.url');
  }
  if (!intIn(settings.mirrorsRequired, 0, MAX_MIRRORS)) problems.push(`mirrorsRequired must be an integer in 0..${MAX_MIRRORS}`);
  return problems;
}

/** The URL of a mirror entry, without the key after '#'. */
const mirrorUrl = (entry: string): string => entry.split('#')[0];

/**
 * Keystores written when the authority API was cleartext hold http:// URLs: the same host and port
 * now answer TLS only, and the stored keys pin them, so such a URL is read as https://.
 */
const upgradeStoredUrl = (url: unknown): unknown => (typeof url === 'string' ? url.replace(/^http:\/\//i, 'https://') : url);

/** Fills the defaults and checks; 'bad-options' lists every problem. */
export function makeSettings(input: SettingsInput): ClientSettings {
  const settings: ClientSettings = {
    authority: {
      url: input.authority?.url,
      publicKeys: input.authority?.publicKeys ? [...input.authority.publicKeys].map((key) => (key instanceof Uint8Array ? key.slice() : key)) : [],
      ...(input.authority?.threshold === undefined ? {} : { threshold: input.authority.threshold }),
    },
    buckets: input.buckets ?? DEFAULT_BUCKETS,
    pollsPerEpoch: input.pollsPerEpoch ?? DEFAULT_POLLS_PER_EPOCH,
    ackTimeoutEpochs: input.ackTimeoutEpochs ?? DEFAULT_ACK_TIMEOUT_EPOCHS,
    ...(input.maxResends === undefined ? {} : { maxResends: input.maxResends }),
    verifyDescriptors: input.verifyDescriptors ?? true,
    minimums: { ...DEFAULT_CONSENSUS_MINIMUMS, ...(input.minimums ?? {}) },
    maxBuckets: input.maxBuckets ?? Math.max(DEFAULT_MAX_BUCKETS, input.buckets ?? DEFAULT_BUCKETS),
    allowRetrievalChange: input.allowRetrievalChange ?? false,
    mirrors: Array.isArray(input.mirrors) ? [...input.mirrors] : (input.mirrors ?? []),
    mirrorsRequired: input.mirrorsRequired ?? DEFAULT_MIRRORS_REQUIRED,
  };
  const problems = settingsProblems(settings);
  if (problems.length > 0) throw new ClientError('bad-options', `invalid client settings: ${problems.join('; ')}`);
  return settings;
}

/** The JSON form (keys as unpadded base64url). */
export function settingsToJson(settings: ClientSettings): Record<string, unknown> {
  return {
    authority: {
      url: settings.authority.url,
      publicKeys: settings.authority.publicKeys.map((key) => toBase64Url(key)),
      ...(settings.authority.threshold === undefined ? {} : { threshold: settings.authority.threshold }),
    },
    buckets: settings.buckets,
    pollsPerEpoch: settings.pollsPerEpoch,
    ackTimeoutEpochs: settings.ackTimeoutEpochs,
    ...(settings.maxResends === undefined ? {} : { maxResends: settings.maxResends }),
    verifyDescriptors: settings.verifyDescriptors,
    minimums: { ...settings.minimums, retrieval: [...settings.minimums.retrieval] },
    maxBuckets: settings.maxBuckets,
    allowRetrievalChange: settings.allowRetrievalChange,
    mirrors: [...settings.mirrors],
    mirrorsRequired: settings.mirrorsRequired,
  };
}

export function settingsFromJson(json: unknown): ClientSettings {
  if (typeof json !== 'object' || json === null) throw new ClientError('corrupt-keystore', 'the stored settings are not an object');
  const j = json as Record<string, unknown>;
  const authority = (j.authority ?? {}) as Record<string, unknown>;
  let publicKeys: Uint8Array[];
  try {
    publicKeys = (Array.isArray(authority.publicKeys) ? authority.publicKeys : []).map((key) => fromBase64Url(String(key), 'authority key', 32));
  } catch {
    throw new ClientError('corrupt-keystore', 'a stored authority key is not base64url');
  }
  try {
    return makeSettings({
      authority: { url: upgradeStoredUrl(authority.url) as string, publicKeys, ...(authority.threshold === undefined ? {} : { threshold: authority.threshold as number }) },
      buckets: j.buckets as number,
      pollsPerEpoch: j.pollsPerEpoch as number,
      ackTimeoutEpochs: j.ackTimeoutEpochs as number,
      maxResends: j.maxResends as number | undefined,
      verifyDescriptors: j.verifyDescriptors as boolean,
      minimums: j.minimums as Partial<ConsensusMinimums> | undefined,
      maxBuckets: j.maxBuckets as number | undefined,
      allowRetrievalChange: j.allowRetrievalChange as boolean | undefined,
      mirrors: Array.isArray(j.mirrors) ? (j.mirrors.map(upgradeStoredUrl) as string[]) : (j.mirrors as undefined),
      mirrorsRequired: j.mirrorsRequired as number | undefined,
    });
  } catch (error) {
    if (error instanceof ClientError) throw new ClientError('corrupt-keystore', `the stored settings are invalid: ${error.message}`);
    throw error;
  }
}

/** What the keystore's sealed payload holds. */
export interface KeystorePayload {
  readonly settings: ClientSettings;
  /** Seals the local mail store's rows (mail-store.ts). */
  readonly storeKey: Uint8Array;
  /** MailEndpoint.exportState(). */
  readonly endpoint: Uint8Array;
}

const PAYLOAD_FORMAT = 'umbra-client-keystore';
const PAYLOAD_VERSION = 1;

export function encodePayload(payload: KeystorePayload): Uint8Array {
  const json = {
    format: PAYLOAD_FORMAT,
    version: PAYLOAD_VERSION,
    settings: settingsToJson(payload.settings),
    storeKey: toBase64Url(payload.storeKey),
    endpoint: toBase64Url(payload.endpoint),
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

export function decodePayload(bytes: Uint8Array): KeystorePayload {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Record<string, unknown>;
  } catch {
    throw new ClientError('corrupt-keystore', 'the keystore payload is not JSON');
  }
  if (typeof json !== 'object' || json === null || json.format !== PAYLOAD_FORMAT) throw new ClientError('corrupt-keystore', 'the keystore payload has the wrong format');
  if (json.version !== PAYLOAD_VERSION) throw new ClientError('unsupported-keystore', `keystore payload version ${String(json.version)} is not supported`);
  try {
    const storeKey = fromBase64Url(String(json.storeKey), 'store key', 32);
    if (storeKey.length !== 32) throw new ClientError('corrupt-keystore', 'the store key is not 32 bytes');
    return {
      settings: settingsFromJson(json.settings),
      storeKey,
      endpoint: fromBase64Url(String(json.endpoint), 'endpoint state', 1 << 28),
    };
  } catch (error) {
    if (error instanceof ClientError) throw error;
    throw new ClientError('corrupt-keystore', 'the keystore payload does not parse');
  }
}
