/** The directory authority (floor 3): docs/pki.md, "Authority". */
export * from './config.js';
export { AuthorityMetrics } from './metrics.js';
export { MAX_UPLOAD_BYTES } from './http-api.js';
export { startAuthority, type AuthorityDeps, type AuthorityHandle } from './server.js';
