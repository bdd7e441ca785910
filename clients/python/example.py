#!/usr/bin/env python3
"""Looks up a few profiles through Portrait Bridge.

    /usr/bin/python3 -m pip wheel --no-build-isolation --no-index --no-deps -w dist clients/python
    /usr/bin/python3 -m pip install --user --no-index --no-deps dist/portraitbridge-*.whl
    /usr/bin/python3 clients/python/example.py 127.0.0.1:50051
"""

import sys

from portraitbridge import Lookup, PortraitError, ProfileClient

TAGS = ["Tag_Profile_IM_Nick", "Tag_Profile_IM_BirthDay"]


def main() -> int:
    target = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    with ProfileClient(target, timeout=10) as client:
        try:
            # Lookups: the unary BatchGetProfiles, one result per account in request order.
            for profile in client.batch_get(["alice", "nobody"], TAGS):
                outcome = profile.fields if profile.ok else f"failed: {profile.error}"
                print(f"{profile.account}: {outcome}")
            # Bulk and pipelining: three requests on one bidi stream; results arrive per upstream call, tagged with
            # the request they answer. The third has no tags: the bridge refuses it in-band and the stream goes on.
            for batch in client.stream([Lookup(["alice", "nobody"], TAGS, request_id="first"),
                                        Lookup(["bob"], TAGS[:1], request_id="second"),
                                        Lookup(["carol"], [], request_id="third")]):
                if not batch.ok:
                    print(f"stream {batch.request_id}: refused: {batch.error}")
                for profile in batch.results:
                    if profile.ok:
                        print(f"stream {batch.request_id} {profile.account}: {profile.fields}")
                    else:
                        print(f"stream {batch.request_id} {profile.account}: failed: {profile.error}")
        except PortraitError as error:
            print(f"call failed: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
