import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import {
  commandLength,
  decodeHopCommands,
  encodeHopCommands,
  SphinxError,
  type RoutingCommand,
} from '../../src/sphinx/index.js';

/** The routing-command codec alone: what it writes it reads back, and it refuses the rest by code. */
const SLOT = 82;
const MAC = 32;
const RUNS = { seed: 0xc0de, numRuns: 500 };

const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const command: fc.Arbitrary<RoutingCommand> = fc.oneof(
  fc.record({ type: fc.constant('next-hop' as const), nodeId: bytes(32), mac: bytes(MAC) }),
  fc.record({ type: fc.constant('recipient' as const), recipient: bytes(32) }),
  fc.record({ type: fc.constant('surb-reply' as const), surbId: bytes(16) }),
  fc.record({ type: fc.constant('delay' as const), delayMs: fc.integer({ min: 0, max: 0xffffffff }) }),
);
/** fast-check builds records without a prototype; the codec returns plain objects. */
const plain = (commands: RoutingCommand[]): RoutingCommand[] => commands.map((c) => ({ ...c }));
const fits = (commands: RoutingCommand[]): boolean =>
  commands.reduce((sum, c) => sum + commandLength(c, MAC), 0) <= SLOT;

test('decode(encode(commands)) = commands for every list that fits a slot', () => {
  fc.assert(fc.property(fc.array(command, { maxLength: 4 }).filter(fits), (commands) => {
    const slot = encodeHopCommands(commands, SLOT, MAC);
    assert.equal(slot.length, SLOT);
    assert.deepEqual(decodeHopCommands(slot, MAC), plain(commands));
  }), RUNS);
});

test('a list that does not fit its slot is malformed-commands', () => {
  fc.assert(fc.property(fc.array(command, { minLength: 2, maxLength: 6 }).filter((c) => !fits(c)), (commands) => {
    assert.throws(() => encodeHopCommands(commands, SLOT, MAC), (e: unknown) => e instanceof SphinxError && e.code === 'malformed-commands');
  }), RUNS);
});

test('any slot bytes decode to commands or to a malformed-commands error, never anything else', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: SLOT }), (slot) => {
    try {
      const commands = decodeHopCommands(slot, MAC);
      // Whatever decoded re-encodes to the same prefix of the slot.
      const used = commands.reduce((sum, c) => sum + commandLength(c, MAC), 0);
      assert.deepEqual(encodeHopCommands(commands, used, MAC), slot.subarray(0, used));
    } catch (error) {
      assert.ok(error instanceof SphinxError && error.code === 'malformed-commands', String(error));
    }
  }), RUNS);
});

test('a slot of zeros holds no commands; decoding stops at the first null command', () => {
  assert.deepEqual(decodeHopCommands(new Uint8Array(SLOT), MAC), []);
  const slot = encodeHopCommands([{ type: 'delay', delayMs: 7 }], SLOT, MAC);
  slot[6] = 0x02; // bytes after the terminating null are padding, not a command
  assert.deepEqual(decodeHopCommands(slot, MAC), [{ type: 'delay', delayMs: 7 }]);
});
