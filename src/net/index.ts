/**
 * The network layer shared by nodes and clients (floor 3): node-to-node links (TLS 1.3 with pinned
 * Ed25519 keys, carrying framed Sphinx packets), WebSockets, request channels to providers, and the
 * authority's HTTP API. docs/links.md and docs/network.md.
 */
export * from './authority-client.js';
export * from './framed-connection.js';
export * from './frames.js';
export * from './link-dialer.js';
export * from './link-listener.js';
export * from './link-settings.js';
export * from './metrics.js';
export * from './pinned-https.js';
export * from './request-channel.js';
export * from './tls-identity.js';
export * from './websocket.js';
