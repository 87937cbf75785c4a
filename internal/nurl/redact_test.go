package nurl

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestLogValueHidesSwissnum: a NURL handed to slog as it is (not its
// Redacted form) logs without its swissnum, in text and JSON.
func TestLogValueHidesSwissnum(t *testing.T) {
	n, err := Parse("pb://cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg@127.0.0.1:20101/ybfivklbe4gewouzxckbuc6fhlwwf777#v=1")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("serving", "nurl", n)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("serving", "nurl", n)
	if out := buf.String(); strings.Contains(out, n.Swissnum) || !strings.Contains(out, "127.0.0.1:20101") {
		t.Fatalf("log shows the swissnum, or not the server:\n%s", out)
	}
}
