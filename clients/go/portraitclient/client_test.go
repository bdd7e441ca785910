package portraitclient

// End-to-end tests against the real bridge and sandbox, started by clients/go/run_tests.sh, which sets
// BRIDGE_ADDRESS (a bridge with the sandbox's key) and BAD_KEY_BRIDGE_ADDRESS (a bridge with a wrong key).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	pb "portraitbridge.dev/go/profile/v1"
)

const (
	nick     = "Tag_Profile_IM_Nick"
	birthDay = "Tag_Profile_IM_BirthDay"
	badTag   = "Tag_Profile_IM_Bogus" // in the standard namespace but not a standard tag: the bridge refuses it
)

func dial(t *testing.T, variable string) *Client {
	t.Helper()
	address := os.Getenv(variable)
	if address == "" {
		t.Fatalf("%s is not set: run clients/go/run_tests.sh", variable)
	}
	client, err := Dial(address, Options{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func TestBatchGetAnswersInRequestOrderWithPerAccountErrorInfo(t *testing.T) {
	client := dial(t, "BRIDGE_ADDRESS")
	profiles, err := client.BatchGet(context.Background(), []string{"nobody", "alice", "bob", "alice"},
		[]string{nick, birthDay})
	if err != nil {
		t.Fatalf("BatchGet: %v", err)
	}
	var accounts []string
	for _, profile := range profiles {
		accounts = append(accounts, profile.Account)
	}
	if strings.Join(accounts, ",") != "nobody,alice,bob,alice" {
		t.Fatalf("accounts in answer order = %v", accounts)
	}
	alice := profiles[1]
	if !alice.OK() || alice.ResultCode != pb.ResultCode_RESULT_CODE_OK {
		t.Fatalf("alice = %+v", alice)
	}
	if day, ok := alice.Fields[birthDay].(uint32); !ok || day == 0 || profiles[3].Fields[birthDay] != day {
		t.Errorf("alice birthday = %#v, duplicate %#v", alice.Fields[birthDay], profiles[3].Fields[birthDay])
	}
	nobody := profiles[0]
	if nobody.OK() || nobody.ResultCode != pb.ResultCode_RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND || nobody.TencentCode != 40003 {
		t.Fatalf("nobody = %+v", nobody)
	}
	if nobody.Err.Code != codes.NotFound || nobody.Err.ErrorInfo == nil || nobody.Err.ErrorInfo.Reason != "TENCENT_40003" ||
		nobody.Err.ErrorInfo.Domain != "portraitbridge.dev" || nobody.Err.TencentCode() != 40003 {
		t.Errorf("nobody error = %v", nobody.Err)
	}
}

func TestBatchGetBadTagFailsWithBadRequest(t *testing.T) {
	client := dial(t, "BRIDGE_ADDRESS")
	_, err := client.BatchGet(context.Background(), []string{"alice"}, []string{nick, badTag})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	// The unary request has no requests[] around it: the path names the request's own field.
	if e.Code != codes.InvalidArgument || len(e.FieldViolations) != 1 ||
		e.FieldViolations[0].Field != "tags[1]" ||
		!strings.Contains(e.FieldViolations[0].Description, badTag) {
		t.Fatalf("err = %v, want INVALID_ARGUMENT naming tags[1]", e)
	}
}

func TestBulkGetCollectsTheStreamInInputOrder(t *testing.T) {
	client := dial(t, "BRIDGE_ADDRESS")
	var accounts []string
	for i := 0; i < 2500; i++ {
		accounts = append(accounts, fmt.Sprintf("user%d", i))
	}
	accounts = append(accounts, "nobody", "user7")
	profiles, err := client.BulkGet(context.Background(), accounts, []string{nick}, 1000)
	if err != nil || len(profiles) != len(accounts) {
		t.Fatalf("err=%v results=%d", err, len(profiles))
	}
	for i, profile := range profiles {
		if profile.Account != accounts[i] {
			t.Fatalf("result %d is %q, want %q", i, profile.Account, accounts[i])
		}
		if profile.OK() != (profile.Account != "nobody") {
			t.Errorf("%s: %v", profile.Account, profile.Err)
		}
	}
	if e := profiles[2500].Err; e == nil || e.ErrorInfo == nil || e.ErrorInfo.Reason != "TENCENT_40003" {
		t.Errorf("nobody error = %v", e)
	}
}

func TestBidiStreamTypedValuesAndPartialFailure(t *testing.T) {
	client := dial(t, "BRIDGE_ADDRESS")
	var batches []Batch
	err := client.GetProfiles(context.Background(), []Lookup{
		{RequestID: "first", Accounts: []string{"alice", "nobody"}, Tags: []string{nick, birthDay}},
		{RequestID: "second", Accounts: []string{"bob"}, Tags: []string{nick}},
	}, func(batch Batch) { batches = append(batches, batch) })
	if err != nil {
		t.Fatalf("stream failed: %v", err)
	}
	byAccount := map[string]AccountProfile{}
	complete := map[uint32]int{}
	for _, batch := range batches {
		want := map[uint32]string{0: "first", 1: "second"}[batch.RequestIndex]
		if batch.RequestID != want {
			t.Errorf("request %d has id %q, want %q", batch.RequestIndex, batch.RequestID, want)
		}
		if batch.RequestComplete {
			complete[batch.RequestIndex]++
		}
		for _, profile := range batch.Results {
			byAccount[profile.Account] = profile
		}
	}
	if complete[0] != 1 || complete[1] != 1 || len(byAccount) != 3 {
		t.Fatalf("complete=%v accounts=%v", complete, byAccount)
	}

	alice := byAccount["alice"]
	if !alice.OK() {
		t.Fatalf("alice failed: %v", alice.Err)
	}
	if name, ok := alice.Fields[nick].(string); !ok || name == "" {
		t.Errorf("alice nick = %#v, want a non-empty string", alice.Fields[nick])
	}
	if day, ok := alice.Fields[birthDay].(uint32); !ok || day == 0 { // an integer field, typed as one
		t.Errorf("alice birthday = %#v, want a non-zero uint32", alice.Fields[birthDay])
	}
	if bob := byAccount["bob"]; !bob.OK() || len(bob.Fields) != 1 {
		t.Errorf("bob = %+v", bob)
	}

	nobody := byAccount["nobody"] // partial failure: only this account fails
	if nobody.OK() || len(nobody.Fields) != 0 {
		t.Fatalf("nobody = %+v, want a failure without fields", nobody)
	}
	if nobody.ResultCode != pb.ResultCode_RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND || nobody.TencentCode != 40003 {
		t.Errorf("nobody result code %v / %d", nobody.ResultCode, nobody.TencentCode)
	}
	if nobody.Err.Code != codes.NotFound || nobody.Err.ErrorInfo == nil ||
		nobody.Err.ErrorInfo.Reason != "TENCENT_40003" || nobody.Err.TencentCode() != 40003 || nobody.Err.Retryable() {
		t.Errorf("nobody error = %v", nobody.Err)
	}
	if !strings.Contains(nobody.Err.Error(), "NOT_FOUND: ") || !strings.Contains(nobody.Err.Error(), "reason=TENCENT_40003") {
		t.Errorf("nobody error text = %q", nobody.Err.Error())
	}
}

func TestInvalidLookupFailsWithBadRequest(t *testing.T) {
	client := dial(t, "BRIDGE_ADDRESS")
	for _, c := range []struct {
		accounts, tags []string
		field          string
	}{
		{[]string{"alice"}, nil, "requests[0].tags"},
		{[]string{strings.Repeat("a", 33)}, []string{nick}, "requests[0].accounts[0]"},
	} {
		_, err := client.BulkGet(context.Background(), c.accounts, c.tags, 0)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("err = %v, want *Error", err)
		}
		if e.Code != codes.InvalidArgument || len(e.FieldViolations) == 0 || e.FieldViolations[0].Field != c.field {
			t.Fatalf("err = %v, want INVALID_ARGUMENT on %s", e, c.field)
		}
		if !strings.Contains(e.Error(), "INVALID_ARGUMENT: ") || !strings.Contains(e.Error(), "field "+c.field) {
			t.Errorf("error text = %q", e.Error())
		}
	}
}

func TestInvalidRequestIsRefusedInBandAndStreamGoesOn(t *testing.T) {
	client := dial(t, "BRIDGE_ADDRESS")
	byRequest := map[uint32][]Batch{}
	err := client.GetProfiles(context.Background(), []Lookup{
		{RequestID: "first", Accounts: []string{"alice"}, Tags: []string{nick}},
		{RequestID: "bad", Accounts: []string{"bob"}},
		{RequestID: "third", Accounts: []string{"bob"}, Tags: []string{nick}},
	}, func(batch Batch) { byRequest[batch.RequestIndex] = append(byRequest[batch.RequestIndex], batch) })
	if err != nil {
		t.Fatalf("stream failed: %v", err)
	}
	if len(byRequest) != 3 || len(byRequest[1]) != 1 {
		t.Fatalf("batches by request = %+v", byRequest)
	}

	refused := byRequest[1][0] // one batch, no results, complete, with the refusal decoded
	if refused.OK() || refused.RequestID != "bad" || !refused.RequestComplete || len(refused.Results) != 0 {
		t.Fatalf("refused batch = %+v", refused)
	}
	if refused.Err.Code != codes.InvalidArgument || len(refused.Err.FieldViolations) != 1 ||
		refused.Err.FieldViolations[0].Field != "requests[1].tags" {
		t.Fatalf("refusal = %v", refused.Err)
	}
	if !strings.Contains(refused.Err.Error(), "field requests[1].tags") {
		t.Errorf("refusal text = %q", refused.Err.Error())
	}

	for index, account := range map[uint32]string{0: "alice", 2: "bob"} { // the requests around it are answered
		var results []AccountProfile
		complete := false
		for _, batch := range byRequest[index] {
			if !batch.OK() {
				t.Errorf("request %d refused: %v", index, batch.Err)
			}
			complete = complete || batch.RequestComplete
			results = append(results, batch.Results...)
		}
		if !complete || len(results) != 1 || results[0].Account != account || !results[0].OK() {
			t.Errorf("request %d: complete=%v results=%+v", index, complete, results)
		}
	}
}

func TestWrongSecretKeyIsMappedStreamError(t *testing.T) {
	client := dial(t, "BAD_KEY_BRIDGE_ADDRESS")
	_, err := client.BulkGet(context.Background(), []string{"alice"}, []string{nick}, 0)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if e.Code != codes.FailedPrecondition || e.ErrorInfo == nil || e.ErrorInfo.Reason != "TENCENT_70009" ||
		e.ErrorInfo.Metadata["tencent_code"] != "70009" || e.TencentCode() != 70009 {
		t.Fatalf("err = %v", e)
	}
}

func TestLargeLookup(t *testing.T) {
	client := dial(t, "BRIDGE_ADDRESS")
	var lookups []Lookup
	for start := 0; start < 2000; start += 500 {
		var accounts []string
		for i := start; i < start+500; i++ {
			accounts = append(accounts, fmt.Sprintf("user%d", i))
		}
		lookups = append(lookups, Lookup{Accounts: accounts, Tags: []string{nick}})
	}
	count := 0
	err := client.GetProfiles(context.Background(), lookups, func(batch Batch) {
		for _, profile := range batch.Results {
			if !profile.OK() {
				t.Errorf("%s failed: %v", profile.Account, profile.Err)
			}
			count++
		}
	})
	if err != nil || count != 2000 {
		t.Fatalf("err=%v count=%d", err, count)
	}
}

func TestDeadline(t *testing.T) {
	client, err := Dial(os.Getenv("BRIDGE_ADDRESS"), Options{Timeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = client.BatchGet(context.Background(), []string{"alice"}, []string{nick})
	var e *Error
	if !errors.As(err, &e) || e.Code != codes.DeadlineExceeded {
		t.Fatalf("err = %v, want DEADLINE_EXCEEDED", err)
	}
}
