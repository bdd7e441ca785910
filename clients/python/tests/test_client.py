"""End-to-end tests of the Python client against the real bridge and sandbox (started by run_tests.sh).

Runs against the installed wheel (run_tests.sh builds and installs it). Needs BRIDGE_ADDRESS (a bridge with the
sandbox's key) and BAD_KEY_BRIDGE_ADDRESS (a bridge with a wrong key).
"""

import json
import os
import unittest
import urllib.request

import grpc

from portraitbridge import Lookup, PortraitError, ProfileClient

NICK = "Tag_Profile_IM_Nick"
BIRTHDAY = "Tag_Profile_IM_BirthDay"
BAD_TAG = "Tag_Profile_IM_Bogus"  # in the standard namespace but not a standard tag: the bridge refuses it


class ProfileClientTest(unittest.TestCase):
    def setUp(self):
        self.client = ProfileClient(os.environ["BRIDGE_ADDRESS"], timeout=20)
        self.addCleanup(self.client.close)

    def test_batch_get_answers_in_request_order_with_a_per_account_error_info(self):
        profiles = self.client.batch_get(["nobody", "alice", "bob", "alice"], [NICK, BIRTHDAY])
        self.assertEqual([p.account for p in profiles], ["nobody", "alice", "bob", "alice"])
        nobody, alice = profiles[0], profiles[1]
        self.assertTrue(alice.ok, alice.error)
        self.assertEqual(alice.result_code, "RESULT_CODE_OK")
        self.assertIsInstance(alice.fields[NICK], str)
        self.assertIsInstance(alice.fields[BIRTHDAY], int)
        self.assertEqual(profiles[3].fields, alice.fields)  # a duplicate is answered twice
        self.assertFalse(nobody.ok)
        self.assertEqual(nobody.result_code, "RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND")
        self.assertEqual(nobody.tencent_code, 40003)
        self.assertEqual(nobody.error.code, grpc.StatusCode.NOT_FOUND)
        self.assertEqual(nobody.error.error_info.reason, "TENCENT_40003")
        self.assertEqual(nobody.error.error_info.domain, "portraitbridge.dev")
        self.assertEqual(nobody.error.error_info.metadata["tencent_code"], "40003")

    def test_batch_get_bad_tag_raises_with_bad_request(self):
        with self.assertRaises(PortraitError) as raised:
            self.client.batch_get(["alice"], [NICK, BAD_TAG])
        error = raised.exception
        self.assertEqual(error.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(len(error.field_violations), 1, error)
        # The unary request has no requests[] around it: the path names the request's own field.
        self.assertEqual(error.field_violations[0].field, "tags[1]")
        self.assertIn(BAD_TAG, error.field_violations[0].description)

    def test_batch_get_wrong_secret_key_is_failed_precondition(self):
        with ProfileClient(os.environ["BAD_KEY_BRIDGE_ADDRESS"], timeout=20) as client:
            with self.assertRaises(PortraitError) as raised:
                client.batch_get(["alice"], [NICK])
        self.assertEqual(raised.exception.code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(raised.exception.tencent_code, 70009)

    def test_bulk_get_collects_the_stream_in_input_order(self):
        accounts = [f"user{i}" for i in range(2500)] + ["nobody", "user7"]
        profiles = self.client.bulk_get(accounts, [NICK], chunk=1000)
        self.assertEqual([p.account for p in profiles], accounts)
        self.assertTrue(all(p.ok for p in profiles[:2500]))
        self.assertEqual(profiles[2500].error.error_info.reason, "TENCENT_40003")
        self.assertEqual(profiles[2501].fields, profiles[7].fields)

    def test_bidi_stream_typed_values_and_partial_failure(self):
        batches = list(self.client.stream([Lookup(["alice", "nobody"], [NICK, BIRTHDAY], request_id="first"),
                                           Lookup(["bob"], [NICK], request_id="second")]))
        complete = sorted(b.request_index for b in batches if b.request_complete)
        self.assertEqual(complete, [0, 1])
        for batch in batches:
            self.assertEqual(batch.request_id, "first" if batch.request_index == 0 else "second")
        by_account = {p.account: p for b in batches for p in b.results}
        self.assertEqual(set(by_account), {"alice", "nobody", "bob"})

        alice = by_account["alice"]
        self.assertTrue(alice.ok, alice.error)
        self.assertIsInstance(alice.fields[NICK], str)
        self.assertTrue(alice.fields[NICK])
        self.assertIsInstance(alice.fields[BIRTHDAY], int)  # an integer field, typed as one
        self.assertGreater(alice.fields[BIRTHDAY], 0)
        self.assertEqual(list(by_account["bob"].fields), [NICK])

        nobody = by_account["nobody"]  # partial failure: only this account fails
        self.assertFalse(nobody.ok)
        self.assertEqual(nobody.fields, {})
        self.assertEqual(nobody.result_code, "RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND")
        self.assertEqual(nobody.tencent_code, 40003)
        self.assertEqual(nobody.error.code, grpc.StatusCode.NOT_FOUND)
        self.assertEqual(nobody.error.error_info.reason, "TENCENT_40003")
        self.assertEqual(nobody.error.tencent_code, 40003)
        self.assertFalse(nobody.error.retryable)
        self.assertIn("reason=TENCENT_40003", str(nobody.error))

    def test_bulk_get_of_an_invalid_request_raises_with_bad_request_details(self):
        with self.assertRaises(PortraitError) as raised:
            self.client.bulk_get(["alice"], [])
        error = raised.exception
        self.assertEqual(error.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual([v.field for v in error.field_violations], ["requests[0].tags"])
        self.assertIn("field requests[0].tags", str(error))

        with self.assertRaises(PortraitError) as raised:
            self.client.bulk_get(["a" * 33], [NICK])
        self.assertEqual(raised.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual([v.field for v in raised.exception.field_violations], ["requests[0].accounts[0]"])

    def test_invalid_request_is_refused_in_band_and_the_stream_goes_on(self):
        batches = list(self.client.stream([Lookup(["alice"], [NICK], request_id="first"),
                                           Lookup(["bob"], [], request_id="bad"),
                                           Lookup(["bob"], [NICK], request_id="third")]))  # no exception: ends OK
        by_request = {}
        for batch in batches:
            by_request.setdefault(batch.request_index, []).append(batch)
        self.assertEqual(sorted(by_request), [0, 1, 2])

        [refused] = by_request[1]  # one batch, no results, complete, with the refusal decoded
        self.assertFalse(refused.ok)
        self.assertEqual(refused.request_id, "bad")
        self.assertTrue(refused.request_complete)
        self.assertEqual(refused.results, [])
        self.assertIsInstance(refused.error, PortraitError)
        self.assertEqual(refused.error.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual([v.field for v in refused.error.field_violations], ["requests[1].tags"])
        self.assertIn("field requests[1].tags", str(refused.error))

        for index, account in ((0, "alice"), (2, "bob")):  # the requests around it are answered
            self.assertTrue(all(b.ok for b in by_request[index]))
            self.assertTrue(any(b.request_complete for b in by_request[index]))
            results = [p for b in by_request[index] for p in b.results]
            self.assertEqual([p.account for p in results], [account])
            self.assertTrue(results[0].ok, results[0].error)

    def test_wrong_secret_key_is_a_mapped_stream_error(self):
        with ProfileClient(os.environ["BAD_KEY_BRIDGE_ADDRESS"], timeout=20) as client:
            with self.assertRaises(PortraitError) as raised:
                client.bulk_get(["alice"], [NICK])
        error = raised.exception
        self.assertEqual(error.code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(error.error_info.reason, "TENCENT_70009")
        self.assertEqual(error.error_info.metadata["tencent_code"], "70009")
        self.assertEqual(error.tencent_code, 70009)

    def test_large_lookup_from_a_generator(self):
        lookups = (Lookup([f"user{i}" for i in range(start, start + 500)], [NICK]) for start in range(0, 2000, 500))
        results = [p for b in self.client.stream(lookups) for p in b.results]
        self.assertEqual(len(results), 2000)
        self.assertTrue(all(p.ok for p in results))

    def test_deadline(self):
        # The sandbox answers 2 s late, for an account no other test asks (so no cached answer beats the deadline).
        # A deadline of microseconds instead was a race: gRPC rounds deadlines up to the millisecond, and a cached
        # answer can come back within one.
        set_sandbox_faults({"latency_ms": 2000})
        self.addCleanup(set_sandbox_faults, {})
        with ProfileClient(os.environ["BRIDGE_ADDRESS"], timeout=0.2) as client:
            with self.assertRaises(PortraitError) as raised:
                client.batch_get(["deadline-probe"], [NICK])
        self.assertEqual(raised.exception.code, grpc.StatusCode.DEADLINE_EXCEEDED)


def set_sandbox_faults(faults):
    """Replaces the sandbox's injected faults (POST /sandbox/faults; {} injects none)."""
    request = urllib.request.Request(f"http://127.0.0.1:{os.environ['SANDBOX_PORT']}/sandbox/faults",
                                     data=json.dumps(faults).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, whatever the environment says
    with no_proxy.open(request, timeout=10) as response:
        response.read()


if __name__ == "__main__":
    unittest.main()
