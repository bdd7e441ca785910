// Command example looks up a few profiles through Portrait Bridge.
//
//	clients/go/generate.sh && cd clients/go && go run ./example 127.0.0.1:50051
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"portraitbridge.dev/go/portraitclient"
)

func main() {
	target := "127.0.0.1:50051"
	if len(os.Args) > 1 {
		target = os.Args[1]
	}
	client, err := portraitclient.Dial(target, portraitclient.Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer client.Close()

	tags := []string{"Tag_Profile_IM_Nick", "Tag_Profile_IM_BirthDay"}
	// Lookups: the unary BatchGetProfiles, one result per account in request order.
	profiles, err := client.BatchGet(context.Background(), []string{"alice", "nobody"}, tags)
	if err != nil {
		fmt.Fprintf(os.Stderr, "call failed: %v\n", err)
		os.Exit(1)
	}
	for _, profile := range profiles {
		if profile.OK() {
			fmt.Printf("%s: %v\n", profile.Account, profile.Fields)
		} else {
			fmt.Printf("%s: failed: %v\n", profile.Account, profile.Err)
		}
	}

	// Bulk and pipelining: three requests on one bidi stream; results arrive per upstream call, tagged with the request they answer.
	// The third has no tags: the bridge refuses it in-band and the stream goes on.
	err = client.GetProfiles(context.Background(), []portraitclient.Lookup{
		{RequestID: "first", Accounts: []string{"alice", "nobody"}, Tags: tags},
		{RequestID: "second", Accounts: []string{"bob"}, Tags: tags[:1]},
		{RequestID: "third", Accounts: []string{"carol"}},
	}, func(batch portraitclient.Batch) {
		if !batch.OK() {
			fmt.Printf("stream %s: refused: %v\n", batch.RequestID, batch.Err)
		}
		for _, profile := range batch.Results {
			if profile.OK() {
				fmt.Printf("stream %s %s: %v\n", batch.RequestID, profile.Account, profile.Fields)
			} else {
				fmt.Printf("stream %s %s: failed: %v\n", batch.RequestID, profile.Account, profile.Err)
			}
		}
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "stream failed: %v\n", err)
		os.Exit(1)
	}
}
