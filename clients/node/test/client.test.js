'use strict';
// End-to-end tests against the real bridge and sandbox, started by clients/node/run_tests.sh, which sets
// BRIDGE_ADDRESS (a bridge with the sandbox's key) and BAD_KEY_BRIDGE_ADDRESS (a bridge with a wrong key).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const { ProfileClient, PortraitError } = require('../src/client');

const NICK = 'Tag_Profile_IM_Nick';
const BIRTHDAY = 'Tag_Profile_IM_BirthDay';
const BAD_TAG = 'Tag_Profile_IM_Bogus'; // in the standard namespace but not a standard tag: the bridge refuses it

function client(variable = 'BRIDGE_ADDRESS', options = { deadlineMs: 20000 }) {
  assert.ok(process.env[variable], `${variable} is not set: run clients/node/run_tests.sh`);
  return new ProfileClient(process.env[variable], options);
}

test('batchGet answers in request order, with a per-account ErrorInfo', async () => {
  const c = client();
  let profiles;
  try {
    profiles = await c.batchGet(['nobody', 'alice', 'bob', 'alice'], [NICK, BIRTHDAY]);
  } finally {
    c.close();
  }
  assert.deepEqual(profiles.map((p) => p.account), ['nobody', 'alice', 'bob', 'alice']);
  const [nobody, alice] = profiles;
  assert.ok(alice.ok, String(alice.error));
  assert.equal(alice.resultCode, 'RESULT_CODE_OK');
  assert.equal(typeof alice.fields[BIRTHDAY], 'number');
  assert.deepEqual(profiles[3].fields, alice.fields); // a duplicate is answered twice
  assert.equal(nobody.ok, false);
  assert.equal(nobody.resultCode, 'RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND');
  assert.equal(nobody.tencentCode, 40003);
  assert.ok(nobody.error instanceof PortraitError);
  assert.equal(nobody.error.code, grpc.status.NOT_FOUND);
  assert.deepEqual(nobody.error.errorInfo.reason, 'TENCENT_40003');
  assert.equal(nobody.error.errorInfo.domain, 'portraitbridge.dev');
  assert.equal(nobody.error.errorInfo.metadata.tencent_code, '40003');
});

test('batchGet with a bad tag rejects with BadRequest', async () => {
  const c = client();
  try {
    await assert.rejects(c.batchGet(['alice'], [NICK, BAD_TAG]), (error) => {
      assert.ok(error instanceof PortraitError);
      assert.equal(error.codeName, 'INVALID_ARGUMENT');
      assert.equal(error.fieldViolations.length, 1, String(error));
      // The unary request has no requests[] around it: the path names the request's own field.
      assert.equal(error.fieldViolations[0].field, 'tags[1]');
      assert.ok(error.fieldViolations[0].description.includes(BAD_TAG), String(error));
      return true;
    });
  } finally {
    c.close();
  }
});

test('bulkGet collects the stream in input order', async () => {
  const c = client();
  const accounts = [...Array.from({ length: 2500 }, (_, i) => `user${i}`), 'nobody', 'user7'];
  let profiles;
  try {
    profiles = await c.bulkGet(accounts, [NICK], { chunk: 1000 });
  } finally {
    c.close();
  }
  assert.deepEqual(profiles.map((p) => p.account), accounts);
  assert.ok(profiles.slice(0, 2500).every((p) => p.ok));
  assert.equal(profiles[2500].error.errorInfo.reason, 'TENCENT_40003');
  assert.deepEqual(profiles[2501].fields, profiles[7].fields);
});

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
  assert.ok(batches.every((b) => typeof b.requestIndex === 'number')); // uint32: a JS number, not a string
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

test('bulkGet of an invalid request rejects with BadRequest details', async () => {
  const c = client();
  try {
    await assert.rejects(c.bulkGet(['alice'], []), (error) => {
      assert.ok(error instanceof PortraitError);
      assert.equal(error.codeName, 'INVALID_ARGUMENT');
      assert.deepEqual(error.fieldViolations.map((v) => v.field), ['requests[0].tags']);
      assert.match(error.message, /field requests\[0\]\.tags/);
      return true;
    });
    await assert.rejects(c.bulkGet(['a'.repeat(33)], [NICK]), (error) => {
      assert.ok(error instanceof PortraitError);
      assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
      assert.deepEqual(error.fieldViolations.map((v) => v.field), ['requests[0].accounts[0]']);
      return true;
    });
  } finally {
    c.close();
  }
});

test('an invalid request is refused in-band and the stream goes on', async () => {
  const c = client();
  const batches = [];
  try {
    // Ends without throwing: the stream ends OK.
    for await (const batch of c.stream([
      { requestId: 'first', accounts: ['alice'], tags: [NICK] },
      { requestId: 'bad', accounts: ['bob'], tags: [] },
      { requestId: 'third', accounts: ['bob'], tags: [NICK] },
    ])) batches.push(batch);
  } finally {
    c.close();
  }
  const byRequest = {};
  for (const batch of batches) (byRequest[batch.requestIndex] ||= []).push(batch);
  assert.deepEqual(Object.keys(byRequest), ['0', '1', '2']);

  assert.equal(byRequest[1].length, 1); // one batch, no results, complete, with the refusal decoded
  const refused = byRequest[1][0];
  assert.equal(refused.ok, false);
  assert.equal(refused.requestId, 'bad');
  assert.equal(refused.requestComplete, true);
  assert.deepEqual(refused.results, []);
  assert.ok(refused.error instanceof PortraitError);
  assert.equal(refused.error.code, grpc.status.INVALID_ARGUMENT);
  assert.deepEqual(refused.error.fieldViolations.map((v) => v.field), ['requests[1].tags']);
  assert.match(String(refused.error), /^INVALID_ARGUMENT: .*field requests\[1\]\.tags/);

  for (const [index, account] of [[0, 'alice'], [2, 'bob']]) { // the requests around it are answered
    assert.ok(byRequest[index].every((b) => b.ok && b.error === null));
    assert.ok(byRequest[index].some((b) => b.requestComplete));
    const results = byRequest[index].flatMap((b) => b.results);
    assert.deepEqual(results.map((p) => p.account), [account]);
    assert.ok(results[0].ok, String(results[0].error));
  }
});

test('a wrong secret key is a mapped stream error with ErrorInfo', async () => {
  const c = client('BAD_KEY_BRIDGE_ADDRESS');
  await assert.rejects(c.bulkGet(['alice'], [NICK]), (error) => {
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
  await assert.rejects(c.batchGet(['alice'], [NICK]), (error) => error.code === grpc.status.DEADLINE_EXCEEDED);
  c.close();
});
