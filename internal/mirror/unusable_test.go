package mirror_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// logBuffer is a log destination safe for concurrent writers.
type logBuffer = testutil.Buffer

// TestUnusableEntryLive: a live mirror keeps following a directory after
// another writer adds entries that cannot be used (a name that is not
// UTF-8, metadata that is not an object): the good change next to them
// is applied, and the watcher's log names each one. A fresh walk (sync
// --once, tested in the cli package) reports them as warning events.
func TestUnusableEntryLive(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	w.link(t, root, "a.txt", w.upload(t, []byte("first")))
	dir := t.TempDir()
	rec := &recorder{}
	logs := &logBuffer{}
	m := open(t, root, dir, w.g, mirror.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	run(t, m, rec)
	waitFor(t, generous, "first mirror", hasContent(filepath.Join(dir, "a.txt"), []byte("first")))

	ok := w.upload(t, []byte("fine")).String()
	bad := netstring(netstring("\xffbad")+netstring(ok)+netstring("")+netstring("{}")) +
		netstring(netstring("badmd")+netstring(ok)+netstring("")+netstring("[]"))
	if _, err := w.pub.Modify(context.Background(), root, func(old []byte) ([]byte, error) {
		return append(append([]byte{}, old...), bad...), nil
	}); err != nil {
		t.Fatal(err)
	}
	w.link(t, root, "b.txt", w.upload(t, []byte("second")))
	waitFor(t, generous, "the change beside the unusable entries", hasContent(filepath.Join(dir, "b.txt"), []byte("second")))
	waitFor(t, generous, "log lines naming them", func() bool {
		l := logs.String()
		return strings.Contains(l, "xffbad") && strings.Contains(l, "badmd") && !strings.Contains(l, "\xff")
	})
	if got := listTree(t, dir); len(got) != 2 {
		t.Errorf("mirror holds %q, want a.txt and b.txt", sortedKeys(got))
	}
}
