import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigProblems, fieldOfProblem, intIn, isJsonObject, parseJsonObject, problemListMessage } from '../../src/codec/schema.js';

test('parseJsonObject takes text or a value and refuses what is not a JSON object', () => {
  const fail = (problem: string) => new Error(problem);
  assert.deepEqual(parseJsonObject('{"a":1}', fail), { a: 1 });
  assert.deepEqual(parseJsonObject({ b: 2 }, fail), { b: 2 });
  assert.throws(() => parseJsonObject('{', fail), /^Error: the configuration is not valid JSON$/);
  for (const value of ['[1]', '3', null, [], 'null']) {
    assert.throws(() => parseJsonObject(value, fail), /^Error: the configuration must be a JSON object$/);
  }
  assert.ok(isJsonObject({}) && !isJsonObject([]) && !isJsonObject(null));
});

test('intIn accepts safe integers within the bounds only', () => {
  assert.ok(intIn(0, 0, 1) && intIn(1, 0, 1));
  assert.ok(!intIn(2, 0, 1) && !intIn(-1, 0, 1) && !intIn(0.5, 0, 1) && !intIn('1', 0, 1) && !intIn(Number.NaN, 0, 1));
  assert.ok(!intIn(2 ** 53, 0, Number.POSITIVE_INFINITY));
});

test('ConfigProblems reads integers, reports unknown fields and skips re-checks of reported fields', () => {
  const problems = new ConfigProblems();
  const input = { a: 5, b: 'x', nested: { z: 1 } };
  assert.equal(problems.integer(input, 'a', 'a', undefined), 5);
  assert.ok(Number.isNaN(problems.integer(input, 'b', 'b', 7)));
  assert.equal(problems.integer(input, 'c', 'c', 7), 7);
  assert.ok(Number.isNaN(problems.integer(input, 'd', 'd', undefined)));
  problems.unknownFields(input.nested, ['y'], 'nested.');
  problems.addUnreported(['b must be at least 1', 'd must be positive', 'e must be positive', 'e must be even', 'list[3] is wrong']);
  assert.deepEqual(problems.list, [
    'b must be an integer',
    'd is required',
    'unknown field "nested.z"',
    'e must be positive',
    'e must be even',
    'list[3] is wrong',
  ]);
  assert.equal(fieldOfProblem('authorities[2] must be 32 bytes'), 'authorities');
  assert.equal(fieldOfProblem('store.path: missing'), 'store.path');
  assert.equal(problemListMessage('invalid x', ['a', 'b']), 'invalid x:\n- a\n- b');
});
