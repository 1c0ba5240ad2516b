package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/latency-fabric/alf/internal/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
)

// eventsCmd prints the event log as JSON lines, for audit and replay.
func eventsCmd(ctx context.Context, nc *nats.Conn, args []string, stderr io.Writer) int {
	fl := flag.NewFlagSet("alf events", flag.ContinueOnError)
	fl.SetOutput(stderr)
	from := fl.Uint64("from", 1, "first stream sequence to print")
	account := fl.String("account", "", "only the events of this account DID")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintln(stderr, "alf events:", err)
		return 1
	}
	var filters []string
	if *account != "" {
		filters = events.AccountFilters(*account)
	}
	enc := json.NewEncoder(os.Stdout)
	err = events.NewStore(js).Replay(ctx, *from, filters, func(ev events.Event) error {
		body := json.RawMessage("null")
		if ev.Envelope != nil {
			b, err := protojson.Marshal(ev.Envelope)
			if err != nil {
				return err
			}
			body = b
		}
		return enc.Encode(struct {
			Seq      uint64          `json:"seq"`
			Subject  string          `json:"subject"`
			Type     string          `json:"type"`
			Envelope json.RawMessage `json:"envelope"`
		}{ev.Seq, ev.Subject, ev.Type(), body})
	})
	if err != nil {
		fmt.Fprintln(stderr, "alf events:", err)
		return 1
	}
	return 0
}
