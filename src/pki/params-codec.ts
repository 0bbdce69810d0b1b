import type { ByteReader, ByteWriter } from '../codec/bytes.js';
import { sameBytes } from '../codec/bytes.js';
import type { SuiteName } from '../sphinx/suite.js';
import { MAX_SUITE_NAME_BYTES } from './consensus-document.js';
import { PkiError } from './errors.js';
import { PKI_SUITE_NAMES, RETRIEVAL_MODES, type NetworkParameters, type RetrievalMode } from './params.js';

/**
 * The binary form of the network parameters (docs/pki.md, "Consensus document"), shared by the
 * consensus document and the authorities' votes: suite, geometry, mixing, traffic, retrieval, PIR, retention, reliability.
 * Reading checks the encoding only; networkParametersProblems checks the rules.
 */

const encoder = new TextEncoder();

function writeF64(writer: ByteWriter, value: number): void {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value, false);
  writer.bytes(bytes);
}

function readF64(reader: ByteReader, field: string): number {
  const bytes = reader.bytesOf(8, field);
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, false);
}

function malformed(detail: string): PkiError {
  return new PkiError('malformed', detail);
}

export function writeNetworkParameters(writer: ByteWriter, params: NetworkParameters): void {
  writer
    .text(1, params.suite)
    .u8(params.geometry.hops)
    .u32(params.geometry.userForwardPayloadLength)
    .u8(params.geometry.withSurb ? 1 : 0)
    .u32(params.mixing.meanDelayMs)
    .u32(params.mixing.maxDelayMs);
  writeF64(writer, params.traffic.clientSendRate);
  writeF64(writer, params.traffic.loopRate);
  writeF64(writer, params.traffic.dropRate);
  writeF64(writer, params.traffic.gatewayClientRate);
  writer.u8(RETRIEVAL_MODES.indexOf(params.retrieval)).u32(params.pir.rowBytes).u16(params.pir.queriesPerPoll).u64(params.retentionMs);
  writeF64(writer, params.reliability.mixLoopRate);
  writer.u16(params.reliability.floor);
}

/** Reads what writeNetworkParameters wrote (DecodeError on truncation, PkiError 'malformed' on a bad code). */
export function readNetworkParameters(reader: ByteReader): NetworkParameters {
  const suiteBytes = reader.prefixed(1, MAX_SUITE_NAME_BYTES, 'suite');
  const suite = PKI_SUITE_NAMES.find((name) => sameBytes(encoder.encode(name), suiteBytes));
  if (suite === undefined) throw malformed('unknown Sphinx suite');
  const hops = reader.u8('hops');
  const userForwardPayloadLength = reader.u32('user payload length');
  const surbFlag = reader.u8('with SURB');
  if (surbFlag > 1) throw malformed('the SURB flag is not 0 or 1');
  const meanDelayMs = reader.u32('mean delay');
  const maxDelayMs = reader.u32('max delay');
  const clientSendRate = readF64(reader, 'client send rate');
  const loopRate = readF64(reader, 'loop rate');
  const dropRate = readF64(reader, 'drop rate');
  const gatewayClientRate = readF64(reader, 'gateway client rate');
  const retrieval: RetrievalMode | undefined = RETRIEVAL_MODES[reader.u8('retrieval')];
  if (retrieval === undefined) throw malformed('unknown retrieval mode');
  const rowBytes = reader.u32('PIR row bytes');
  const queriesPerPoll = reader.u16('PIR queries per poll');
  const retentionMs = reader.u64('retention');
  const mixLoopRate = readF64(reader, 'mix loop rate');
  const floor = reader.u16('reliability floor');
  return {
    suite: suite as SuiteName,
    geometry: Object.freeze({ hops, userForwardPayloadLength, withSurb: surbFlag === 1 }),
    mixing: Object.freeze({ meanDelayMs, maxDelayMs }),
    traffic: Object.freeze({ clientSendRate, loopRate, dropRate, gatewayClientRate }),
    retrieval,
    pir: Object.freeze({ rowBytes, queriesPerPoll }),
    retentionMs,
    reliability: Object.freeze({ mixLoopRate, floor }),
  };
}
