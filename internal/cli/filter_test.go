package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
)

func TestEventFilterKeep(t *testing.T) {
	f := eventFilter{include: []string{"*.txt", "docs/*"}, exclude: []string{"secret*"}, types: []string{"added", "modified"}}
	if err := f.check(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		typ  events.Type
		path string
		want bool
	}{
		{events.Added, "a.txt", true},
		{events.Added, "sub/deep/a.txt", true},
		{events.Modified, "docs/x.pdf", true},
		{events.Added, "docs/sub/x.pdf", false},
		{events.Added, "a.log", false},
		{events.Added, "secret.txt", false},
		{events.Removed, "a.txt", false},
		{events.Changed, "a.txt", false},
	} {
		if got := f.keep(events.Event{Type: c.typ, Path: c.path}); got != c.want {
			t.Errorf("%s %s: keep %v, want %v", c.typ, c.path, got, c.want)
		}
	}
	for flag, bad := range map[string]eventFilter{"--include": {include: []string{"[a"}}, "--exclude": {exclude: []string{"\\"}},
		"--event": {types: []string{"created"}}} {
		if err := bad.check(); err == nil || ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), flag+" ") {
			t.Errorf("%+v: %v, want a usage error naming %s", bad, err, flag)
		}
	}
}

// TestWatchIncludeAndEventFilter: with -r, --include and --event, only the
// matching entry events are printed and counted.
func TestWatchIncludeAndEventFilter(t *testing.T) {
	writeEnv(t)
	g, _, _ := watchGrid(t)
	flags := g.ServerFlags()
	_, dir, errOut := run(t, append([]string{"mkdir"}, flags...)...)
	dir = strings.TrimSpace(dir)
	if dir == "" {
		t.Fatal(errOut)
	}
	args := append(append([]string{}, flags...), "-r", "--json", "--count", "1", "--include", "*.txt", "--exclude", "skip*",
		"--event", "added", dir)
	out, errOut2, wait := startWatch(t, context.Background(), args)
	for _, name := range []string{"b.log", "skip.txt", "a.txt"} {
		if code, _, e := runIn(t, []byte(name), append(append([]string{"put"}, flags...), "-", dir+"/"+name)...); code != ExitOK {
			t.Fatalf("put %s: %s", name, e)
		}
	}
	if code := wait(); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut2.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"type":"added"`) || !strings.Contains(lines[0], `"path":"a.txt"`) {
		t.Errorf("events %q, want only added a.txt", out.String())
	}
}
