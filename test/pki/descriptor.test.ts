import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { concatBytes } from '../../src/codec/bytes.js';
import { backends, type Crypto } from '../../src/crypto/index.js';
import {
  decodeDescriptor,
  decodeDescriptorUnverified,
  DESCRIPTOR_SIGNATURE_LABEL,
  encodeDescriptor,
  makeDescriptor,
  MAX_DESCRIPTOR_BYTES,
  MIN_DESCRIPTOR_BYTES,
  parseHostPort,
  PkiError,
  sameDescriptor,
  sphinxKeyFor,
  type DescriptorFields,
  type NodeRole,
  type PkiErrorCode,
} from '../../src/pki/index.js';
import { flipBit, SMALL_ORDER_POINTS } from '../support/bytes.js';
import { makeFixtureNode, testSeed } from './network-fixture.js';

/** noble's Ed25519 takes milliseconds: fewer runs there keep the suite fast (sodium runs them all). */
const runsFor = (crypto: Crypto) => ({ seed: 20240611, numRuns: crypto.name === 'sodium' ? 150 : 20 });

function pkiCode(run: () => unknown): PkiErrorCode | 'accepted' {
  try {
    run();
    return 'accepted';
  } catch (error) {
    if (error instanceof PkiError) return error.code;
    throw error;
  }
}

function expectCode(code: PkiErrorCode, run: () => unknown): void {
  assert.equal(pkiCode(run), code);
}

function fieldsFor(crypto: Crypto, role: NodeRole, layer: number, epoch = 5): DescriptorFields {
  return {
    epoch,
    serial: 1_700_000_000_123,
    name: `node-${role}`,
    family: 'operator-1',
    role,
    layer,
    addresses: role === 'mix' ? { link: 'mix.example:4000' } : { link: '10.0.0.1:4000', ws: '[::1]:8443' },
    linkPublicKey: crypto.ed25519PublicKey(testSeed(crypto, 'link')),
    sphinxKeys: [
      { epoch, publicKey: crypto.x25519Base(testSeed(crypto, 'sphinx a')) },
      { epoch: epoch + 1, publicKey: crypto.x25519Base(testSeed(crypto, 'sphinx b')) },
    ],
  };
}

/** Re-signs a hand-edited body, to test the rules the decoder checks independently of the signature. */
function resign(crypto: Crypto, seed: Uint8Array, encoded: Uint8Array): Uint8Array {
  const body = encoded.subarray(0, encoded.length - 64);
  return concatBytes(body, crypto.ed25519Sign(seed, concatBytes(DESCRIPTOR_SIGNATURE_LABEL, body)));
}

const hostname = fc.stringMatching(/^[a-z0-9](?:[a-z0-9.-]{0,20}[a-z0-9])?$/);
const address = fc.tuple(fc.oneof(hostname, fc.constant('[::1]'), fc.constant('127.0.0.1')), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`);
const name = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);

for (const crypto of Object.values(backends)) {
  describe(`descriptor (${crypto.name})`, () => {
    const seed = testSeed(crypto, 'identity');

    test('round trip for every role, and the node ID is the identity public key', () => {
      for (const [role, layer] of [['gateway', 0], ['mix', 1], ['mix', 2], ['mix', 3], ['provider', 4]] as const) {
        const descriptor = makeDescriptor(crypto, seed, fieldsFor(crypto, role, layer));
        assert.deepEqual(descriptor.nodeId, crypto.ed25519PublicKey(seed));
        const bytes = encodeDescriptor(descriptor);
        assert.ok(bytes.length >= MIN_DESCRIPTOR_BYTES && bytes.length <= MAX_DESCRIPTOR_BYTES);
        const decoded = decodeDescriptor(crypto, bytes, 5);
        assert.deepEqual(decoded, descriptor);
        assert.deepEqual(encodeDescriptor(decoded), bytes);
        assert.ok(sameDescriptor(decoded, descriptor));
        assert.deepEqual(sphinxKeyFor(decoded, 6), descriptor.sphinxKeys[1].publicKey);
        assert.equal(sphinxKeyFor(decoded, 7), undefined);
      }
    });

    test('gateway and provider layers may be left out', () => {
      const { layer: _ignored, ...fields } = fieldsFor(crypto, 'provider', 4);
      assert.equal(makeDescriptor(crypto, seed, fields).layer, 4);
    });

    test('property: any valid fields round-trip to the same value and bytes; making is deterministic', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 1 }),
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          name,
          fc.constantFrom<[NodeRole, number]>(['gateway', 0], ['mix', 1], ['mix', 2], ['mix', 3], ['provider', 4]),
          address,
          address,
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          (epoch, serial, nodeName, [role, layer], link, ws, linkKey) => {
            const fields: DescriptorFields = {
              ...fieldsFor(crypto, role, layer, epoch),
              serial,
              name: nodeName,
              addresses: role === 'mix' ? { link } : { link, ws },
              linkPublicKey: linkKey,
            };
            const bytes = encodeDescriptor(makeDescriptor(crypto, seed, fields));
            assert.deepEqual(encodeDescriptor(makeDescriptor(crypto, seed, fields)), bytes);
            const decoded = decodeDescriptor(crypto, bytes);
            assert.equal(decoded.name, nodeName);
            assert.deepEqual(encodeDescriptor(decoded), bytes);
          },
        ),
        runsFor(crypto),
      );
    });

    test('property: arbitrary bytes are refused with a PkiError, never anything else', () => {
      const valid = encodeDescriptor(makeDescriptor(crypto, seed, fieldsFor(crypto, 'mix', 2)));
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 900 }), fc.uint8Array({ maxLength: 40 }).map((tail) => concatBytes(valid.subarray(0, 60), tail))), (bytes) => {
          assert.notEqual(pkiCode(() => decodeDescriptor(crypto, bytes)), 'accepted');
        }),
        runsFor(crypto),
      );
    });

    test('every truncation is malformed; oversized input is malformed before parsing', () => {
      const bytes = encodeDescriptor(makeDescriptor(crypto, seed, fieldsFor(crypto, 'gateway', 0)));
      for (let length = 0; length < bytes.length; length++) expectCode('malformed', () => decodeDescriptor(crypto, bytes.subarray(0, length)));
      expectCode('malformed', () => decodeDescriptor(crypto, concatBytes(bytes, new Uint8Array(1))));
      expectCode('malformed', () => decodeDescriptor(crypto, new Uint8Array(MAX_DESCRIPTOR_BYTES + 1)));
    });

    test('every bit flip is refused with a PkiError', () => {
      const bytes = encodeDescriptor(makeDescriptor(crypto, seed, fieldsFor(crypto, 'provider', 4)));
      // noble verifies in milliseconds: every 11th bit (coprime to 8, so every bit position of a
      // byte is hit) keeps the test fast; sodium flips them all.
      const step = crypto.name === 'sodium' ? 1 : 11;
      for (let bit = 0; bit < bytes.length * 8; bit += step) {
        const code = pkiCode(() => decodeDescriptor(crypto, flipBit(bytes, bit)));
        assert.ok(code === 'malformed' || code === 'bad-signature', `bit ${bit}: ${code}`);
      }
    });

    test('a descriptor signed by another key, or with a forged signature, is bad-signature', () => {
      const bytes = encodeDescriptor(makeDescriptor(crypto, seed, fieldsFor(crypto, 'mix', 1)));
      const other = testSeed(crypto, 'someone else');
      // The body names `seed`'s node ID but the signature is by `other`.
      expectCode('bad-signature', () => decodeDescriptor(crypto, resign(crypto, other, bytes)));
      const zeroSignature = concatBytes(bytes.subarray(0, bytes.length - 64), new Uint8Array(64));
      expectCode('bad-signature', () => decodeDescriptor(crypto, zeroSignature));
      // The unverified decoder does not look at signatures.
      assert.equal(decodeDescriptorUnverified(zeroSignature).role, 'mix');
    });

    test('rules are checked even under a valid signature', () => {
      const bytes = encodeDescriptor(makeDescriptor(crypto, seed, fieldsFor(crypto, 'mix', 1)));
      const roleOffset = 4 + 1 + 8 + 8 + 32;
      for (const [role, layer] of [[1, 0], [1, 4], [0, 1], [2, 3], [3, 1], [1, 5]]) {
        const edited = bytes.slice();
        edited[roleOffset] = role;
        edited[roleOffset + 1] = layer;
        expectCode('malformed', () => decodeDescriptor(crypto, resign(crypto, seed, edited)));
      }
      for (const version of [2, 4]) {
        const badVersion = bytes.slice();
        badVersion[4] = version;
        expectCode('malformed', () => decodeDescriptor(crypto, resign(crypto, seed, badVersion)));
      }
      // The family (after the 1-byte-prefixed name) with a right-to-left override inside.
      const familyOffset = roleOffset + 2 + 1 + bytes[roleOffset + 2] + 1;
      const bidi = bytes.slice();
      bidi[familyOffset] = 0x2e; // '.' is allowed; a control byte is not
      bidi[familyOffset + 1] = 0x07;
      expectCode('malformed', () => decodeDescriptor(crypto, resign(crypto, seed, bidi)));
      // A small-order Sphinx key (the two keys, then the 4-byte bandwidth, then the signature).
      const smallOrder = bytes.slice();
      smallOrder.set(SMALL_ORDER_POINTS[0], bytes.length - 64 - 4 - 32);
      expectCode('malformed', () => decodeDescriptor(crypto, resign(crypto, seed, smallOrder)));
      // Equal Sphinx keys.
      const equalKeys = bytes.slice();
      equalKeys.set(bytes.subarray(bytes.length - 132, bytes.length - 100), bytes.length - 100);
      expectCode('malformed', () => decodeDescriptor(crypto, resign(crypto, seed, equalKeys)));
      // A zero bandwidth.
      const zeroBandwidth = bytes.slice();
      zeroBandwidth.fill(0, bytes.length - 68, bytes.length - 64);
      expectCode('malformed', () => decodeDescriptor(crypto, resign(crypto, seed, zeroBandwidth)));
    });

    test('an expected epoch that differs is wrong-epoch', () => {
      const bytes = encodeDescriptor(makeDescriptor(crypto, seed, fieldsFor(crypto, 'mix', 3, 9)));
      expectCode('wrong-epoch', () => decodeDescriptor(crypto, bytes, 10));
      assert.equal(decodeDescriptor(crypto, bytes, 9).epoch, 9);
    });

    test('makeDescriptor refuses fields that break a rule with invalid', () => {
      const base = fieldsFor(crypto, 'mix', 2);
      const gateway = fieldsFor(crypto, 'gateway', 0);
      const cases: [string, DescriptorFields][] = [
        ['mix without layer', { ...base, layer: undefined }],
        ['mix on layer 0', { ...base, layer: 0 }],
        ['gateway on layer 1', { ...gateway, layer: 1 }],
        ['mix with ws', { ...base, addresses: { link: 'a:1', ws: 'a:2' } }],
        ['gateway without ws', { ...gateway, addresses: { link: 'a:1' } }],
        ['port 0', { ...base, addresses: { link: 'a:0' } }],
        ['no port', { ...base, addresses: { link: 'host' } }],
        ['port with leading zero', { ...base, addresses: { link: 'a:080' } }],
        ['port too large', { ...base, addresses: { link: 'a:65536' } }],
        ['space in host', { ...base, addresses: { link: 'a b:1' } }],
        ['empty name', { ...base, name: '' }],
        ['long name', { ...base, name: 'x'.repeat(65) }],
        ['control character', { ...base, name: 'a\nb' }],
        ['lone surrogate', { ...base, name: 'a\ud800' }],
        ['name with a bidi override', { ...base, name: 'mix\u202e1-xim' }],
        ['name with a leading byte-order mark', { ...base, name: '\ufeffmix-1' }],
        ['name of non-ASCII letters', { ...base, name: 'mіx-1' }],
        ['empty family', { ...base, family: '' }],
        ['long family', { ...base, family: 'f'.repeat(65) }],
        ['family with a space', { ...base, family: 'op one' }],
        ['family with a bidi override', { ...base, family: 'op\u202eeno' }],
        ['family with a control character', { ...base, family: 'op\u0000' }],
        ['family of non-ASCII letters', { ...base, family: 'opérateur' }],
        ['family missing', { ...base, family: undefined as unknown as string }],
        ['unknown role', { ...base, role: 'relay' as NodeRole }],
        ['negative epoch', { ...base, epoch: -1 }],
        ['fractional serial', { ...base, serial: 1.5 }],
        ['short link key', { ...base, linkPublicKey: new Uint8Array(31) }],
        ['one Sphinx key', { ...base, sphinxKeys: base.sphinxKeys.slice(0, 1) }],
        ['Sphinx keys for other epochs', { ...base, sphinxKeys: base.sphinxKeys.map((k) => ({ ...k, epoch: k.epoch + 1 })) }],
        ['equal Sphinx keys', { ...base, sphinxKeys: [base.sphinxKeys[0], { ...base.sphinxKeys[0], epoch: 6 }] }],
        ['small-order Sphinx key', { ...base, sphinxKeys: [base.sphinxKeys[0], { epoch: 6, publicKey: SMALL_ORDER_POINTS[1] }] }],
      ];
      for (const [what, fields] of cases) assert.equal(pkiCode(() => makeDescriptor(crypto, seed, fields)), 'invalid', what);
      expectCode('invalid', () => makeDescriptor(crypto, new Uint8Array(31), base));
    });

    test('the family is signed and round-trips; its character set is letters, digits, - _ .', () => {
      for (const family of ['a', 'Op-1_x.y', 'f'.repeat(64)]) {
        const bytes = encodeDescriptor(makeDescriptor(crypto, seed, { ...fieldsFor(crypto, 'mix', 1), family }));
        assert.equal(decodeDescriptor(crypto, bytes).family, family);
      }
      // Changing the family byte without re-signing breaks the signature.
      const bytes = encodeDescriptor(makeDescriptor(crypto, seed, fieldsFor(crypto, 'mix', 1)));
      const roleOffset = 4 + 1 + 8 + 8 + 32;
      const familyOffset = roleOffset + 2 + 1 + bytes[roleOffset + 2] + 1;
      const forged = bytes.slice();
      forged[familyOffset] = 0x78; // 'x'
      expectCode('bad-signature', () => decodeDescriptor(crypto, forged));
    });

    test('names of the safe set round-trip', () => {
      for (const text of ['mix-1.example_a', 'x'.repeat(64), '0']) {
        const bytes = encodeDescriptor(makeDescriptor(crypto, seed, { ...fieldsFor(crypto, 'mix', 1), name: text }));
        assert.equal(decodeDescriptor(crypto, bytes).name, text);
      }
    });
  });
}

test('both backends make the same bytes', () => {
  const [a, b] = Object.values(backends).map((crypto) => encodeDescriptor(makeFixtureNode(crypto, 'same', 'mix', 2, 3, 4000).descriptor));
  assert.deepEqual(a, b);
});

test('parseHostPort', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseHostPort('[::1]:443'), { host: '::1', port: 443 });
  assert.deepEqual(parseHostPort('mix-1.example.org:65535'), { host: 'mix-1.example.org', port: 65535 });
  for (const bad of ['', ':80', 'host:', 'host:0', '::1:80', '[::1]', 'host:1.5', '-a:1', 'a-:1', 'a:+1', `${'a'.repeat(254)}:1`]) {
    assert.equal(parseHostPort(bad), undefined, bad);
  }
});
