'use strict';
// End-to-end tests against the real bridge and sandbox, started by clients/node/run_tests.sh, which sets
// BRIDGE_ADDRESS (a bridge with the sandbox's key) and BAD_KEY_BRIDGE_ADDRESS (a bridge with a wrong key).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const { ProfileClient, PortraitError } = require('../src/client');

const NICK = 'Tag_Profile_IM_Nick';
const BIRTHDAY = 'Tag_Profile_IM_BirthDay';

function client(variable = 'BRIDGE_ADDRESS', options = { deadlineMs: 20000 }) {
  assert.ok(process.env[variable], `${variable} is not set: run clients/node/run_tests.sh`);
  return new ProfileClient(process.env[variable], options);
}

test('bidi stream with typed values and a partial failure', async () => {
  const c = client();
  const batches = [];
  try {
    for await (const batch of c.stream([
      { requestId: 'first', accounts: ['alice', 'nobody'], tags: [NICK, BIRTHDAY] },
      { requestId: 'second', accounts: ['bob'], tags: [NICK] },
    ])) batches.push(batch);
  } finally {
    c.close();
  }
  const complete = batches.filter((b) => b.requestComplete).map((b) => b.requestIndex).sort();
  assert.deepEqual(complete, [0, 1]);
  for (const batch of batches) assert.equal(batch.requestId, batch.requestIndex === 0 ? 'first' : 'second');
  const byAccount = Object.fromEntries(batches.flatMap((b) => b.results).map((p) => [p.account, p]));
  assert.deepEqual(Object.keys(byAccount).sort(), ['alice', 'bob', 'nobody']);

  const alice = byAccount.alice;
  assert.ok(alice.ok, String(alice.error));
  assert.equal(typeof alice.fields[NICK], 'string');
  assert.ok(alice.fields[NICK].length > 0);
  assert.equal(typeof alice.fields[BIRTHDAY], 'number'); // an integer field, typed as one
  assert.ok(Number.isInteger(alice.fields[BIRTHDAY]) && alice.fields[BIRTHDAY] > 0);
  assert.deepEqual(Object.keys(byAccount.bob.fields), [NICK]);

  const nobody = byAccount.nobody; // partial failure: only this account fails
  assert.equal(nobody.ok, false);
  assert.deepEqual(nobody.fields, {});
  assert.equal(nobody.resultCode, 'RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND');
  assert.equal(nobody.tencentCode, 40003);
  assert.ok(nobody.error instanceof PortraitError);
  assert.equal(nobody.error.code, grpc.status.NOT_FOUND);
  assert.equal(nobody.error.errorInfo.reason, 'TENCENT_40003');
  assert.equal(nobody.error.tencentCode, 40003);
  assert.equal(nobody.error.retryable, false);
  assert.match(String(nobody.error), /^NOT_FOUND: .*reason=TENCENT_40003/);
});

test('an invalid request ends the stream with BadRequest details', async () => {
  const c = client();
  await assert.rejects(c.get(['alice'], []), (error) => {
    assert.ok(error instanceof PortraitError);
    assert.equal(error.codeName, 'INVALID_ARGUMENT');
    assert.deepEqual(error.fieldViolations.map((v) => v.field), ['requests[0].tags']);
    assert.match(error.message, /field requests\[0\]\.tags/);
    return true;
  });
  c.close();
});

test('a wrong secret key is a mapped stream error with ErrorInfo', async () => {
  const c = client('BAD_KEY_BRIDGE_ADDRESS');
  await assert.rejects(c.get(['alice'], [NICK]), (error) => {
    assert.ok(error instanceof PortraitError);
    assert.equal(error.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(error.errorInfo.reason, 'TENCENT_70009');
    assert.equal(error.errorInfo.metadata.tencent_code, '70009');
    assert.equal(error.tencentCode, 70009);
    return true;
  });
  c.close();
});

test('a large lookup streams with backpressure', async () => {
  const c = client();
  async function* lookups() {
    for (let start = 0; start < 2000; start += 500) {
      yield { accounts: Array.from({ length: 500 }, (_, i) => `user${start + i}`), tags: [NICK] };
    }
  }
  let count = 0;
  for await (const batch of c.stream(lookups())) {
    for (const profile of batch.results) {
      assert.ok(profile.ok, String(profile.error));
      count += 1;
    }
  }
  c.close();
  assert.equal(count, 2000);
});

test('the deadline applies', async () => {
  const c = client('BRIDGE_ADDRESS', { deadlineMs: 0 });
  await assert.rejects(c.get(['alice'], [NICK]), (error) => error.code === grpc.status.DEADLINE_EXCEEDED);
  c.close();
});
