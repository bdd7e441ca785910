"""The installed client works in a process that also imports Tencent's Python SDK.

Tencent's SDK ships a regular package, tencentcloud/__init__.py, which shadows any other distribution's
tencentcloud.* modules (the stubs' old home, tencentcloud.chat.profile.v1, failed to import next to it). A stand-in
with the same shape goes first on sys.path of a fresh interpreter, which then imports both and calls the bridge.
Needs BRIDGE_ADDRESS and PORTRAIT_CLIENT_SITE (where run_tests.sh installed the wheel).
"""

import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import unittest

SCRIPT = textwrap.dedent("""
    import sys
    import tencentcloud
    from tencentcloud.common import credential  # a module of the stand-in SDK, imported first
    import portraitbridge
    from portraitbridge.profile.v1 import profile_pb2

    assert tencentcloud.__file__.startswith(sys.argv[2]), tencentcloud.__file__  # the stand-in, a regular package
    assert portraitbridge.__file__.startswith(sys.argv[3]), portraitbridge.__file__  # the installed wheel
    with portraitbridge.ProfileClient(sys.argv[1], timeout=20) as client:
        [alice, nobody] = client.batch_get(["alice", "nobody"], ["Tag_Profile_IM_Nick"])
        bulk = client.bulk_get(["bob"], ["Tag_Profile_IM_Nick"])
    assert alice.ok and alice.result_code == profile_pb2.ResultCode.Name(profile_pb2.RESULT_CODE_OK), alice
    print(credential.NAME, alice.account, nobody.error.error_info.reason, bulk[0].account, bulk[0].ok)
""")


class BesideTencentSdkTest(unittest.TestCase):
    def test_import_and_call_with_a_regular_tencentcloud_package_first_on_the_path(self):
        site = os.environ["PORTRAIT_CLIENT_SITE"]
        with tempfile.TemporaryDirectory() as sdk:
            package = pathlib.Path(sdk, "tencentcloud")
            (package / "common").mkdir(parents=True)
            (package / "__init__.py").write_text('__version__ = "3.0.0"\n')
            (package / "common" / "__init__.py").write_text("")
            (package / "common" / "credential.py").write_text('NAME = "stand-in-sdk"\n')
            environment = dict(os.environ, PYTHONPATH=os.pathsep.join([sdk, site]), PYTHONDONTWRITEBYTECODE="1")
            done = subprocess.run([sys.executable, "-c", SCRIPT, os.environ["BRIDGE_ADDRESS"], sdk, site],
                                  env=environment, capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.split(), ["stand-in-sdk", "alice", "TENCENT_40003", "bob", "True"])

    def test_the_wheel_claims_no_tencentcloud_module(self):
        site = pathlib.Path(os.environ["PORTRAIT_CLIENT_SITE"])
        self.assertTrue((site / "portraitbridge" / "profile" / "v1" / "profile_pb2.py").is_file())
        self.assertFalse((site / "tencentcloud").exists())
        [top_level] = site.glob("portraitbridge-*.dist-info/top_level.txt")
        self.assertEqual(top_level.read_text().split(), ["portraitbridge"])


if __name__ == "__main__":
    unittest.main()
