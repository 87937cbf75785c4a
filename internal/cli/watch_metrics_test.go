package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWatchMetricsListen scrapes --metrics-listen after a pushed change:
// the client counters must show the connections, the notice and the change.
func TestWatchMetricsListen(t *testing.T) {
	g, p, c := watchGrid(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := append(g.ServerFlags(), "--json", "--poll", "1h", "--metrics-listen", addr, c.String())
	out, errOut, wait := startWatch(t, ctx, args)
	if _, err := p.Modify(context.Background(), c, func([]byte) ([]byte, error) { return []byte("second"), nil }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), `"seqnum":2`) {
		if time.Now().After(deadline) {
			t.Fatalf("no event; stderr:\n%s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`(?m)^tahoe_watch_client_watch_connections 5$`,
		`(?m)^tahoe_watch_client_changes_total 1$`,
		`(?m)^tahoe_watch_client_notices_received_total [1-9]`,
		`(?m)^tahoe_watch_client_change_latency_seconds_count 1$`,
	} {
		if !regexp.MustCompile(want).Match(body) {
			t.Errorf("metrics lack %s:\n%s", want, grepClient(string(body)))
		}
	}
	cancel()
	if code := wait(); code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
	}
}

func grepClient(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "tahoe_watch_client") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
