"""What the generated stubs (portraitbridge.profile.v1) do not do: decode google.rpc error details into typed
objects, and collect the GetProfiles stream for bulk lookups::

    from portraitbridge import ProfileClient

    with ProfileClient("127.0.0.1:50051", timeout=10) as client:
        for profile in client.batch_get(["alice", "nobody"], ["Tag_Profile_IM_Nick", "Tag_Profile_IM_BirthDay"]):
            if profile.ok:
                print(profile.account, profile.fields)        # {'Tag_Profile_IM_Nick': 'Alice', ...: 19950315}
            else:
                print(profile.account, profile.error)         # NOT_FOUND: ... [reason=TENCENT_40003 ...]

:meth:`ProfileClient.batch_get` is the unary BatchGetProfiles (one result per account, in request order); a failure
of the call (INVALID_ARGUMENT with ``field_violations`` for a bad account or tag, ...) raises :class:`PortraitError`.
:meth:`ProfileClient.stream` is the GetProfiles stream for bulk export and pipelining: a request the bridge refuses
as invalid is answered in-band (a :class:`Batch` with ``error`` set) and the stream goes on;
:meth:`ProfileClient.bulk_get` collects it for any number of accounts.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

import grpc

from portraitbridge.profile.v1 import profile_pb2, profile_pb2_grpc

try:  # the same choice as the generated stubs make (setup.py): googleapis-common-protos if installed, else our copy
    from google.rpc import error_details_pb2, status_pb2
except ImportError:
    from portraitbridge._googleapis.google.rpc import error_details_pb2, status_pb2

__all__ = [
    "AccountProfile",
    "Batch",
    "ErrorInfo",
    "FieldViolation",
    "Lookup",
    "PortraitError",
    "ProfileClient",
    "decode_status",
]

Value = Union[int, str, bytes, None]

_CODES_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
_DETAILS_TRAILER = "grpc-status-details-bin"


@dataclasses.dataclass(frozen=True)
class ErrorInfo:
    """The google.rpc.ErrorInfo detail: why, as a reason within a domain, with facts in metadata."""

    reason: str
    domain: str
    metadata: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    """One google.rpc.BadRequest violation: a path such as ``requests[0].tags`` and why it is invalid."""

    field: str
    description: str


class PortraitError(Exception):
    """A non-OK gRPC status with its google.rpc.Status details decoded.

    Raised when a call fails as a whole (BatchGetProfiles, or a GetProfiles stream), or by
    :meth:`ProfileClient.bulk_get` for a refused request; also
    the type of :attr:`Batch.error` for a request refused in-band and of :attr:`AccountProfile.error` for a
    per-account failure.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        error_info: Optional[ErrorInfo] = None,
        field_violations: Sequence[FieldViolation] = (),
        retry_delay: Optional[float] = None,
        other_details: Sequence[str] = (),
    ):
        self.code = code
        self.message = message
        self.error_info = error_info
        self.field_violations = list(field_violations)
        self.retry_delay = retry_delay  # seconds, from google.rpc.RetryInfo
        self.other_details = list(other_details)  # type URLs this client does not decode
        super().__init__(str(self))

    @property
    def tencent_code(self) -> int:
        """The Tencent code from ErrorInfo metadata ``tencent_code``, or 0."""
        if self.error_info is None:
            return 0
        try:
            return int(self.error_info.metadata.get("tencent_code", "0"))
        except ValueError:
            return 0

    @property
    def retryable(self) -> bool:
        """Whether the bridge marked the failure retryable."""
        return self.error_info is not None and self.error_info.metadata.get("retryable") == "true"

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}" if self.message else self.code.name
        facts = []
        if self.error_info is not None:
            facts.append(f"reason={self.error_info.reason}")
            if self.error_info.domain:
                facts.append(f"domain={self.error_info.domain}")
            facts.extend(f"{key}={value}" for key, value in sorted(self.error_info.metadata.items()))
        facts.extend(f"field {v.field}: {v.description}" for v in self.field_violations)
        if self.retry_delay is not None:
            facts.append(f"retry after {self.retry_delay:g} s")
        facts.extend(f"detail {type_url}" for type_url in self.other_details)
        return f"{text} [{'; '.join(facts)}]" if facts else text


def decode_status(status: status_pb2.Status) -> Optional[PortraitError]:
    """Decodes a google.rpc.Status; None when it is OK."""
    code = _CODES_BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)
    if code == grpc.StatusCode.OK:
        return None
    error_info, violations, retry_delay, others = None, [], None, []
    for detail in status.details:
        info, bad_request, retry = (error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest(),
                                    error_details_pb2.RetryInfo())
        if detail.Unpack(info):
            error_info = ErrorInfo(info.reason, info.domain, dict(info.metadata))
        elif detail.Unpack(bad_request):
            violations.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)
        elif detail.Unpack(retry):
            retry_delay = retry.retry_delay.ToTimedelta().total_seconds()
        else:
            others.append(detail.type_url)
    return PortraitError(code, status.message, error_info, violations, retry_delay, others)


def _error_from_rpc(error: grpc.RpcError) -> PortraitError:
    """The failure of a call, decoded from its grpc-status-details-bin trailer when the server sent one."""
    for key, value in error.trailing_metadata() or ():
        if key == _DETAILS_TRAILER:
            status = status_pb2.Status.FromString(value)
            decoded = decode_status(status)
            if decoded is not None:
                decoded.code = error.code()  # the trailer's code is authoritative
                return decoded
    return PortraitError(error.code(), error.details() or "")


@dataclasses.dataclass(frozen=True)
class Lookup:
    """One request on the stream: the same tags for every account."""

    accounts: Sequence[str]
    tags: Sequence[str]
    request_id: str = ""


@dataclasses.dataclass
class AccountProfile:
    """The outcome for one account. ``fields`` maps each tag to an int, a str, bytes (custom bytes tags) or None."""

    account: str
    fields: Dict[str, Value]
    result_code: str  # the ResultCode name, e.g. "RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND"
    tencent_code: int
    result_info: str
    error: Optional[PortraitError]

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def from_proto(cls, result: profile_pb2.AccountResult) -> "AccountProfile":
        fields: Dict[str, Value] = {}
        for item in result.items:
            which = item.WhichOneof("value")
            fields[item.tag] = getattr(item, which) if which else None
        return cls(
            account=result.account,
            fields=fields,
            result_code=profile_pb2.ResultCode.Name(result.result_code)
            if result.result_code in profile_pb2.ResultCode.values() else str(result.result_code),
            tencent_code=result.tencent_code,
            result_info=result.result_info,
            error=decode_status(result.status),
        )


@dataclasses.dataclass
class Batch:
    """One GetProfilesResponse: some or all results of the request at ``request_index``.

    A request's results may be split over several batches; the last one has ``request_complete``. ``error`` is set
    only when the bridge refused the request as a whole (INVALID_ARGUMENT, with a field violation such as
    ``requests[1].tags`` for each bad field): such a batch has no results and ``request_complete``, and the stream
    goes on with the requests after it.
    """

    request_index: int
    request_id: str
    results: List[AccountProfile]
    request_complete: bool
    error: Optional[PortraitError] = None

    @property
    def ok(self) -> bool:
        """False when the request was refused (see ``error``)."""
        return self.error is None

    @classmethod
    def from_proto(cls, response: profile_pb2.GetProfilesResponse) -> "Batch":
        return cls(response.request_index, response.request_id,
                   [AccountProfile.from_proto(r) for r in response.results], response.request_complete,
                   decode_status(response.status) if response.HasField("status") else None)


class ProfileClient:
    """A client for ProfileService over one channel. Thread-safe; each call is its own stream.

    Args:
        target: "host:port" or any gRPC target.
        timeout: deadline, in seconds, of each call (a BatchGetProfiles, or a stream to its last response).
        tls: use TLS (implied by any of the PEM arguments).
        root_certificates, private_key, certificate_chain: PEM bytes (roots to trust; client key and chain for mTLS).
        server_name: expect this name in the server certificate (grpc.ssl_target_name_override).
    """

    def __init__(self, target: str, *, timeout: float = 30.0, tls: bool = False,
                 root_certificates: Optional[bytes] = None, private_key: Optional[bytes] = None,
                 certificate_chain: Optional[bytes] = None, server_name: Optional[str] = None):
        self.timeout = timeout
        options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
        if tls or root_certificates or private_key or certificate_chain:
            credentials = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
            self._channel = grpc.secure_channel(target, credentials, options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        self._stub = profile_pb2_grpc.ProfileServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "ProfileClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def stream(self, lookups: Iterable[Lookup]) -> Iterator[Batch]:
        """Sends the lookups on one bidi GetProfiles stream and yields each response as it arrives.

        ``lookups`` may be a generator: gRPC reads it on its own thread, so large inputs stream without deadlock.
        Per-account failures are in ``AccountProfile.error``; a request refused as invalid is yielded as a Batch
        whose ``error`` is set, and the stream goes on; a failure of the stream raises PortraitError after the
        results that arrived before it. Closing the generator early cancels the call.
        """
        requests = (profile_pb2.GetProfilesRequest(request_id=lookup.request_id, accounts=list(lookup.accounts),
                                                   tags=list(lookup.tags)) for lookup in lookups)
        call = self._stub.GetProfiles(requests, timeout=self.timeout)
        try:
            for response in call:
                yield Batch.from_proto(response)
        except grpc.RpcError as error:
            raise _error_from_rpc(error) from None
        finally:
            call.cancel()  # a no-op once the call has ended; stops it if the caller left early

    def batch_get(self, accounts: Sequence[str], tags: Sequence[str]) -> List[AccountProfile]:
        """BatchGetProfiles: one result per entry of ``accounts``, in the same order.

        Per-account failures are in ``AccountProfile.error``. Raises PortraitError when the call fails as a whole:
        INVALID_ARGUMENT with ``field_violations`` (``tags``, ``accounts[0]``) for a bad request, and the others the
        proto documents.
        """
        request = profile_pb2.BatchGetProfilesRequest(accounts=list(accounts), tags=list(tags))
        try:
            response = self._stub.BatchGetProfiles(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise _error_from_rpc(error) from None
        return [AccountProfile.from_proto(result) for result in response.results]

    def bulk_get(self, accounts: Iterable[str], tags: Sequence[str], chunk: int = 1000) -> List[AccountProfile]:
        """Any number of accounts over one GetProfiles stream (requests of ``chunk`` accounts), collected into one
        result per account in input order.

        Raises PortraitError if the stream fails, or if the bridge refuses a request (INVALID_ARGUMENT with its
        ``field_violations``, e.g. ``requests[0].tags`` for an empty tag list).
        """
        accounts = list(accounts)
        lookups = (Lookup(accounts[start:start + chunk], tags) for start in range(0, len(accounts), chunk))
        # Results arrive per upstream call, in completion order: put them back in request order. Within a request
        # the bridge answers each entry once, so results of one account keep their relative order.
        by_request: Dict[int, Dict[str, List[AccountProfile]]] = {}
        with contextlib.closing(self.stream(lookups)) as batches:
            for batch in batches:
                if batch.error is not None:
                    raise batch.error
                pending = by_request.setdefault(batch.request_index, {})
                for profile in batch.results:
                    pending.setdefault(profile.account, []).append(profile)
        profiles: List[AccountProfile] = []
        for index, start in enumerate(range(0, len(accounts), chunk)):
            pending = by_request.get(index, {})
            for account in accounts[start:start + chunk]:
                if not pending.get(account):
                    raise RuntimeError(f"the bridge answered no result for {account!r} in request {index}")
                profiles.append(pending[account].pop(0))
        return profiles
