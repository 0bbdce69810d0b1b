/**
 * The client–server message formats both sides speak (floor 2, pure): the provider's client
 * protocol (bucket fetches, PIR messages, the error response), what a provider stores, and the
 * choice of a provider's PIR partner. docs/network.md, "Client protocols".
 */
export * from './gateway-frame.js';
export * from './message.js';
export * from './pir-messages.js';
export * from './pir-partner.js';
export * from './retrieval.js';
export * from './retrieval-errors.js';
export * from './stored-ciphertext.js';
