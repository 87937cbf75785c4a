package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// TestWatchTypedPathAndEntryFields: watching DIRCAP/sub with -r reports
// the typed root and path, and entry events carry the child's kind, size,
// previous cap and the schema version.
func TestWatchTypedPathAndEntryFields(t *testing.T) {
	writeEnv(t)
	g, _, _ := watchGrid(t)
	flags := g.ServerFlags()
	_, dir, errOut := run(t, append([]string{"mkdir"}, flags...)...)
	dir = strings.TrimSpace(dir)
	if code, _, e := run(t, append([]string{"mkdir"}, append(flags, dir+"/sub")...)...); code != ExitOK {
		t.Fatalf("mkdir sub: %s %s", errOut, e)
	}
	put := func(name, data string) {
		if code, _, e := runIn(t, []byte(data), append(append([]string{"put"}, flags...), "-", dir+"/sub/"+name)...); code != ExitOK {
			t.Fatalf("put %s: %s", name, e)
		}
	}
	put("a.txt", "one")
	args := append(append([]string{}, flags...), "-r", "--json", "--count", "2", dir+"/sub")
	out, errOut2, wait := startWatch(t, context.Background(), args)
	put("a.txt", "two!")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), `"modified"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	put("b.txt", strings.Repeat("x", 100))
	if code := wait(); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut2.String())
	}
	root := cap.MustParse(dir).ReadOnly().String()
	var got []events.Event
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e events.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if e.Type != events.Ready {
			got = append(got, e)
		}
	}
	if len(got) != 2 {
		t.Fatalf("events:\n%s", out.String())
	}
	mod, add := got[0], got[1]
	if mod.Type != events.Modified || mod.Path != "sub/a.txt" || mod.Root != root || mod.PreviousCap == "" ||
		mod.PreviousCap == mod.Cap || mod.Kind != events.KindFile || mod.Mutable || mod.EntrySize != 4 || mod.Schema != events.SchemaVersion {
		t.Errorf("modified event %+v", mod)
	}
	if add.Type != events.Added || add.Path != "sub/b.txt" || add.Root != root || add.EntrySize != 100 || add.PreviousCap != "" {
		t.Errorf("added event %+v", add)
	}
}
