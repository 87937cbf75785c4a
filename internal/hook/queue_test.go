package hook

import (
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
)

// TestQueueKeepsOnlyTheNewestContents: changes queued behind a running
// command keep their place in the batch, but only the newest, the one
// piped to the command, keeps its contents.
func TestQueueKeepsOnlyTheNewestContents(t *testing.T) {
	var pending []events.Event
	for _, s := range []string{"v1", "v2", "v3"} {
		pending = queue(pending, events.Event{Path: s, Contents: []byte(s)})
	}
	if len(pending) != 3 || pending[0].Path != "v1" || pending[2].Path != "v3" {
		t.Fatalf("batch %+v, want v1, v2, v3 in order", pending)
	}
	if pending[0].Contents != nil || pending[1].Contents != nil || string(pending[2].Contents) != "v3" {
		t.Errorf("contents %q %q %q, want only the newest's", pending[0].Contents, pending[1].Contents, pending[2].Contents)
	}
}
