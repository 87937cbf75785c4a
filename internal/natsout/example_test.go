package natsout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Example_worker is the worker of docs/nats.md: one of any number of
// processes sharing the durable consumer "indexer", each event handled
// by one of them and acknowledged once done. (Compiled, not run.)
func Example_worker() {
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	cons, err := js.CreateOrUpdateConsumer(ctx, "TAHOE_WATCH", jetstream.ConsumerConfig{
		Durable:       "indexer",
		FilterSubject: "tahoe.watch.*.changed",
		AckPolicy:     jetstream.AckExplicitPolicy,
	})
	if err != nil {
		log.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var e struct {
			Type   string `json:"type"`
			Cap    string `json:"cap"`
			Path   string `json:"path"`
			Seqnum uint64 `json:"seqnum"`
		}
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			m.Term() // not an event: never redeliver
			return
		}
		fmt.Println(e.Type, e.Path, e.Seqnum, m.Headers().Get("Nats-Msg-Id"))
		m.Ack() // unacked events are redelivered after AckWait
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Stop()
	select {} // work until killed
}
