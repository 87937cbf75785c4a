package natsout_test

import (
	"context"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/natsout"
	"github.com/tahoe-watch/tahoe-watch/internal/natsout/natstest"
)

// BenchmarkPublish measures events through the sink into a file-store
// stream on a loopback JetStream server, each acknowledged (Close waits
// for the last): distinct seqnums, so none is a duplicate. The stream's
// message count is checked against b.N.
func BenchmarkPublish(b *testing.B) {
	srv := natstest.Start(b)
	root := readCap(b, 0)
	s, err := natsout.New(context.Background(), natsout.Options{URL: srv.URL(), Stream: "B"})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		s.Publish(context.Background(), changed(root, uint64(i+1), "s"))
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if n := len(srv.Messages(b, "B")); n != b.N {
		b.Fatalf("stream holds %d events, want %d", n, b.N)
	}
}
