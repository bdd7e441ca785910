"""Portrait Bridge client: the generated portraitbridge.profile.v1 stubs plus the helpers in portraitbridge.client.

The package is named after the project, not tencentcloud.*, so it installs beside Tencent's own Python SDK.
"""

from portraitbridge.client import (AccountProfile, Batch, ErrorInfo, FieldViolation, Lookup, PortraitError,
                                   ProfileClient, decode_status)

__all__ = ["AccountProfile", "Batch", "ErrorInfo", "FieldViolation", "Lookup", "PortraitError", "ProfileClient",
           "decode_status"]
