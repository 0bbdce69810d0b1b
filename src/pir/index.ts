/**
 * Private mailbox retrieval: two-server PIR from a distributed point function (docs/pir.md).
 * Floor 2, pure: no I/O, no clock; randomness comes in as a RandomSource and the server's scan as a
 * ScanKernel (the WebAssembly kernel and its worker threads live on floor 1, src/codec/pir-scan).
 */
export * from './dpf.js';
export * from './errors.js';
export * from './pir.js';
export { jsScanKernel } from '../codec/pir-scan/js-kernel.js';
export { ScanError } from '../codec/pir-scan/types.js';
export type { PirDatabase, PirShard, ScanDatabase, ScanErrorCode, ScanKernel, ShardedPirDatabase } from '../codec/pir-scan/types.js';
