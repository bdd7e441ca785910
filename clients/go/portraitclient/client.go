// Package portraitclient adds to the generated portraitbridge.dev/go/profile/v1 what it does not do: google.rpc
// error details decoded into *Error, typed field values, and the GetProfiles stream collected for bulk lookups.
//
//	client, err := portraitclient.Dial("127.0.0.1:50051", portraitclient.Options{})
//	profiles, err := client.BatchGet(ctx, []string{"alice", "bob"}, []string{"Tag_Profile_IM_Nick"})
//
// BatchGet is the unary BatchGetProfiles (one result per account, in request order): the call for lookups.
// GetProfiles and BulkGet use the stream, for bulk export and pipelining. It builds offline with Debian's Go
// packages in module mode; see clients/go/generate.sh and clients/README.md.
package portraitclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	protov1 "github.com/golang/protobuf/proto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	pb "portraitbridge.dev/go/profile/v1"
)

// Options says how to reach the bridge.
type Options struct {
	// Timeout bounds each call: a BatchGetProfiles, or a GetProfiles stream to its last response (0: 30 s).
	Timeout time.Duration
	// TLS, when not nil, makes the channel use TLS with this configuration (RootCAs, Certificates for mTLS,
	// ServerName); nil means plaintext.
	TLS *tls.Config
}

// Client calls ProfileService over one connection. Safe for concurrent use; each call is its own stream.
type Client struct {
	conn    *grpc.ClientConn
	stub    pb.ProfileServiceClient
	timeout time.Duration
}

// Dial connects (lazily) to target, "host:port" or any gRPC target.
func Dial(target string, options Options) (*Client, error) {
	transport := grpc.WithTransportCredentials(plaintext{})
	if options.TLS != nil {
		transport = grpc.WithTransportCredentials(credentials.NewTLS(options.TLS))
	}
	conn, err := grpc.Dial(target, transport)
	if err != nil {
		return nil, err
	}
	timeout := options.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Client{conn: conn, stub: pb.NewProfileServiceClient(conn), timeout: timeout}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Lookup is one request on the stream: the same tags for every account.
type Lookup struct {
	RequestID string
	Accounts  []string
	Tags      []string
}

// AccountProfile is the outcome for one account.
type AccountProfile struct {
	Account string
	// Fields maps each tag to its typed value: uint32 (integer fields), string, []byte (custom bytes tags), or nil.
	Fields      map[string]interface{}
	ResultCode  pb.ResultCode
	TencentCode int32
	ResultInfo  string
	// Err is nil on success.
	Err *Error
}

// OK reports whether the account was answered successfully.
func (p AccountProfile) OK() bool { return p.Err == nil }

// Batch is one GetProfilesResponse: some or all results of the request at RequestIndex. A request's results may be
// split over several batches; the last one has RequestComplete.
type Batch struct {
	RequestIndex    uint32
	RequestID       string
	Results         []AccountProfile
	RequestComplete bool
	// Err is set only when the bridge refused the request as a whole, in-band: InvalidArgument with a field violation
	// for each bad field ("requests[1].tags"). Such a batch has no results and RequestComplete; the stream goes on
	// with the requests after it.
	Err *Error
}

// OK reports whether the request was accepted (Err is nil).
func (b Batch) OK() bool { return b.Err == nil }

// Error is a non-OK gRPC status with its google.rpc details decoded. BatchGet and GetProfiles return it when the call
// fails;
// Batch.Err holds one for a request refused in-band, and AccountProfile.Err one for a per-account failure.
type Error struct {
	Code            codes.Code
	Message         string
	ErrorInfo       *errdetails.ErrorInfo                   // nil when absent
	FieldViolations []*errdetails.BadRequest_FieldViolation // from google.rpc.BadRequest
	RetryDelay      *time.Duration                          // from google.rpc.RetryInfo; nil when absent
	OtherDetails    []string                                // details this client does not decode, by type
}

// TencentCode is the Tencent code from ErrorInfo metadata "tencent_code", or 0.
func (e *Error) TencentCode() int64 {
	if e.ErrorInfo == nil {
		return 0
	}
	code, _ := strconv.ParseInt(e.ErrorInfo.Metadata["tencent_code"], 10, 64)
	return code
}

// Retryable reports whether the bridge marked the failure retryable.
func (e *Error) Retryable() bool {
	return e.ErrorInfo != nil && e.ErrorInfo.Metadata["retryable"] == "true"
}

// Error renders the status and its details on one line.
func (e *Error) Error() string {
	text := codeName(e.Code)
	if e.Message != "" {
		text += ": " + e.Message
	}
	var facts []string
	if e.ErrorInfo != nil {
		facts = append(facts, "reason="+e.ErrorInfo.Reason)
		if e.ErrorInfo.Domain != "" {
			facts = append(facts, "domain="+e.ErrorInfo.Domain)
		}
		keys := make([]string, 0, len(e.ErrorInfo.Metadata))
		for key := range e.ErrorInfo.Metadata {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			facts = append(facts, key+"="+e.ErrorInfo.Metadata[key])
		}
	}
	for _, violation := range e.FieldViolations {
		facts = append(facts, fmt.Sprintf("field %s: %s", violation.Field, violation.Description))
	}
	if e.RetryDelay != nil {
		facts = append(facts, "retry after "+e.RetryDelay.String())
	}
	for _, other := range e.OtherDetails {
		facts = append(facts, "detail "+other)
	}
	if len(facts) > 0 {
		text += " [" + strings.Join(facts, "; ") + "]"
	}
	return text
}

// codeName is the canonical UPPER_SNAKE name ("INVALID_ARGUMENT").
func codeName(code codes.Code) string {
	if code == codes.OK {
		return "OK"
	}
	var name strings.Builder
	for i, r := range code.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			name.WriteByte('_')
		}
		name.WriteRune(r)
	}
	return strings.ToUpper(name.String())
}

// FromStatus decodes a gRPC status; nil when it is OK.
func FromStatus(st *status.Status) *Error {
	if st == nil || st.Code() == codes.OK {
		return nil
	}
	e := &Error{Code: st.Code(), Message: st.Message()}
	for _, detail := range st.Proto().GetDetails() {
		info, violations, retry := &errdetails.ErrorInfo{}, &errdetails.BadRequest{}, &errdetails.RetryInfo{}
		switch {
		case unpack(detail, info):
			e.ErrorInfo = info
		case unpack(detail, violations):
			e.FieldViolations = append(e.FieldViolations, violations.FieldViolations...)
		case unpack(detail, retry):
			if retry.RetryDelay.IsValid() {
				delay := retry.RetryDelay.AsDuration()
				e.RetryDelay = &delay
			}
		default:
			e.OtherDetails = append(e.OtherDetails, strings.TrimPrefix(detail.GetTypeUrl(), "type.googleapis.com/"))
		}
	}
	return e
}

// unpack decodes detail into message when it holds one. Debian's genproto errdetails are generated for the first
// protobuf API; MessageV2 views them through the current one (anypb), without the deprecated ptypes package.
func unpack(detail *anypb.Any, message protov1.GeneratedMessage) bool {
	view := protov1.MessageV2(message)
	return detail.MessageIs(view) && detail.UnmarshalTo(view) == nil
}

// FromRPCError decodes the error a gRPC call returned (its grpc-status-details-bin included).
func FromRPCError(err error) *Error {
	if err == nil {
		return nil
	}
	return FromStatus(status.Convert(err))
}

func fromProto(result *pb.AccountResult) AccountProfile {
	profile := AccountProfile{
		Account:     result.GetAccount(),
		Fields:      make(map[string]interface{}, len(result.GetItems())),
		ResultCode:  result.GetResultCode(),
		TencentCode: result.GetTencentCode(),
		ResultInfo:  result.GetResultInfo(),
	}
	for _, item := range result.GetItems() {
		switch value := item.GetValue().(type) {
		case *pb.ProfileItem_UintValue:
			profile.Fields[item.GetTag()] = value.UintValue
		case *pb.ProfileItem_StringValue:
			profile.Fields[item.GetTag()] = value.StringValue
		case *pb.ProfileItem_BytesValue:
			profile.Fields[item.GetTag()] = value.BytesValue
		default:
			profile.Fields[item.GetTag()] = nil
		}
	}
	if st := result.GetStatus(); st != nil {
		profile.Err = FromStatus(status.FromProto(st))
	}
	return profile
}

// GetProfiles sends every lookup on one bidi GetProfiles stream (from its own goroutine, so large inputs never
// stall on flow control) and calls onBatch for each response, in arrival order, on the calling goroutine. A request
// the bridge refuses as invalid reaches onBatch as a Batch with Err set, and the stream goes on. It returns nil when
// the stream ends with OK, else an *Error (also after the results that arrived before the failure).
func (c *Client) GetProfiles(ctx context.Context, lookups []Lookup, onBatch func(Batch)) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	stream, err := c.stub.GetProfiles(ctx)
	if err != nil {
		return FromRPCError(err)
	}
	go func() {
		for _, lookup := range lookups {
			request := &pb.GetProfilesRequest{RequestId: lookup.RequestID, Accounts: lookup.Accounts, Tags: lookup.Tags}
			if stream.Send(request) != nil {
				return // the stream has ended; Recv reports why
			}
		}
		_ = stream.CloseSend()
	}()
	for {
		response, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return FromRPCError(err)
		}
		batch := Batch{
			RequestIndex:    response.GetRequestIndex(),
			RequestID:       response.GetRequestId(),
			RequestComplete: response.GetRequestComplete(),
		}
		if st := response.GetStatus(); st != nil {
			batch.Err = FromStatus(status.FromProto(st))
		}
		for _, result := range response.GetResults() {
			batch.Results = append(batch.Results, fromProto(result))
		}
		onBatch(batch)
	}
}

// BatchGet calls the unary BatchGetProfiles: one AccountProfile per entry of accounts, in the same order, with
// per-account failures in AccountProfile.Err. The error, when the call fails as a whole, is an *Error
// (codes.InvalidArgument with FieldViolations for a bad account or tag, and the others the proto documents).
func (c *Client) BatchGet(ctx context.Context, accounts, tags []string) ([]AccountProfile, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	response, err := c.stub.BatchGetProfiles(ctx, &pb.BatchGetProfilesRequest{Accounts: accounts, Tags: tags})
	if err != nil {
		return nil, FromRPCError(err)
	}
	profiles := make([]AccountProfile, 0, len(response.GetResults()))
	for _, result := range response.GetResults() {
		profiles = append(profiles, fromProto(result))
	}
	return profiles, nil
}

// BulkGet looks up any number of accounts over one GetProfiles stream, in requests of chunk accounts (0: 1,000),
// and returns one AccountProfile per account in input order. The error is an *Error: the refusal of an invalid
// request (codes.InvalidArgument with its FieldViolations, e.g. "requests[0].tags" for no tags), or the stream's
// failure.
func (c *Client) BulkGet(ctx context.Context, accounts, tags []string, chunk int) ([]AccountProfile, error) {
	if chunk <= 0 {
		chunk = 1000
	}
	var lookups []Lookup
	for start := 0; start < len(accounts); start += chunk {
		end := start + chunk
		if end > len(accounts) {
			end = len(accounts)
		}
		lookups = append(lookups, Lookup{Accounts: accounts[start:end], Tags: tags})
	}
	// Results arrive per upstream call, in completion order: keep them by request and account, then put them back in
	// input order (each entry is answered once, so an account listed twice has two results to hand out).
	pending := make([]map[string][]AccountProfile, len(lookups))
	var refusal *Error
	err := c.GetProfiles(ctx, lookups, func(batch Batch) {
		if batch.Err != nil && refusal == nil {
			refusal = batch.Err
		}
		if int(batch.RequestIndex) >= len(pending) {
			return // not a request of ours; cannot happen with a conforming bridge
		}
		if pending[batch.RequestIndex] == nil {
			pending[batch.RequestIndex] = map[string][]AccountProfile{}
		}
		for _, profile := range batch.Results {
			pending[batch.RequestIndex][profile.Account] = append(pending[batch.RequestIndex][profile.Account], profile)
		}
	})
	if refusal != nil {
		return nil, refusal
	}
	if err != nil {
		return nil, err
	}
	profiles := make([]AccountProfile, 0, len(accounts))
	for index, lookup := range lookups {
		for _, account := range lookup.Accounts {
			answers := pending[index][account]
			if len(answers) == 0 {
				return nil, fmt.Errorf("the bridge answered no result for %q in request %d", account, index)
			}
			profiles = append(profiles, answers[0])
			pending[index][account] = answers[1:]
		}
	}
	return profiles, nil
}
