/**
 * The link observer's readings: TLS records split from a byte stream however TCP cut it, stamped
 * when their last byte arrived; what is not TLS is set aside; gaps and bytes per window.
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytesPerWindow, gaps, TlsRecordReader, within, type ObservedRecord } from './link-observer.js';

const record = (type: number, length: number): Buffer => {
  const header = Buffer.from([type, 3, 3, length >> 8, length & 0xff]);
  return Buffer.concat([header, Buffer.alloc(length, 0xaa)]);
};

test('records are read across any cut of the stream and stamped when complete', () => {
  const out: ObservedRecord[] = [];
  const reader = new TlsRecordReader(out);
  const stream = Buffer.concat([record(22, 100), record(23, 2000), record(23, 3)]);
  reader.push(stream.subarray(0, 3), 1);
  reader.push(stream.subarray(3, 110), 2);
  reader.push(stream.subarray(110, 1500), 3);
  reader.push(stream.subarray(1500), 4);
  assert.deepEqual(out, [
    { at: 2, type: 22, bytes: 105 },
    { at: 4, type: 23, bytes: 2005 },
    { at: 4, type: 23, bytes: 8 },
  ]);
  assert.equal(reader.garbage, 0);
});

test('a stream that is not TLS is set aside, not misread', () => {
  const out: ObservedRecord[] = [];
  const reader = new TlsRecordReader(out);
  reader.push(Buffer.from('GET / HTTP/1.1\r\n\r\n'), 1);
  reader.push(record(23, 10), 2);
  assert.deepEqual(out, []);
  assert.ok(reader.garbage > 0);
});

test('gaps, windows and periods', () => {
  const records: ObservedRecord[] = [0, 5, 7, 15, 31].map((at) => ({ at, type: 23, bytes: 10 }));
  assert.deepEqual(gaps(records), [5, 2, 8, 16]);
  assert.deepEqual(bytesPerWindow(records, 0, 30, 10), [30, 10, 0]);
  assert.deepEqual(within(records, 5, 15).map((r) => r.at), [5, 7]);
});
