package notifier

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fsnotify/fsnotify"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

func nextNotice(t *testing.T, c *watchproto.Conn) watchproto.Notice {
	t.Helper()
	select {
	case nt, ok := <-c.Notices():
		if !ok {
			t.Fatalf("connection ended: %v", c.Err())
		}
		return nt
	case <-time.After(10 * time.Second):
		t.Fatal("no notice")
	}
	panic("unreachable")
}

// TestShareDirectoryRecreated deletes a subscribed index's last share and
// its directory, as Tahoe does, then writes the share again: the client
// hears of both, and no inotify watch outlives the subscription.
func TestShareDirectoryRecreated(t *testing.T) {
	base := storageNode(t)
	n, u := start(t, base)
	c, err := dial(t, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe(context.Background(), []watchproto.Sub{sdmfSub(t, 0)}); err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(base, "storage", "shares", sdmfSI[:2])
	dir := filepath.Join(prefix, sdmfSI)
	share, err := os.ReadFile(filepath.Join(dir, "0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "0")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if nt := nextNotice(t, c); !nt.Deleted || nt.Shnum != 0 {
		t.Fatalf("notice %+v, want share 0 deleted", nt)
	}
	if got := n.fw.WatchList(); !slices.Equal(got, []string{prefix}) {
		t.Fatalf("inotify watches %v, want the prefix directory only", got)
	}

	binary.BigEndian.PutUint64(share[dataOffset+1:], 200)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0"), share, 0o600); err != nil {
		t.Fatal(err)
	}
	if nt := nextNotice(t, c); nt.Deleted || nt.Seqnum != 200 {
		t.Fatalf("notice %+v, want share 0 at seqnum 200", nt)
	}
	if got := n.fw.WatchList(); !slices.Equal(got, []string{dir}) {
		t.Fatalf("inotify watches %v, want the share directory only", got)
	}
	tahoeUpdate(t, filepath.Join(dir, "0"), 201) // watched again
	if nt := nextNotice(t, c); nt.Seqnum != 201 || !bytes.Equal(nt.Root, bytes.Repeat([]byte{201}, 32)) {
		t.Fatalf("notice %+v, want seqnum 201", nt)
	}

	// Gone again, and unsubscribed while gone: the prefix watch goes too.
	os.RemoveAll(dir)
	if nt := nextNotice(t, c); !nt.Deleted {
		t.Fatalf("notice %+v, want a deletion", nt)
	}
	if err := c.Unsubscribe(context.Background(), [][]byte{sdmfSub(t, 0).SI}); err != nil {
		t.Fatal(err)
	}
	if got := n.fw.WatchList(); len(got) != 0 {
		t.Fatalf("inotify watches %v left after unsubscribing", got)
	}
}

// TestInotifyOverflowResyncs: after an inotify queue overflow, changes may
// have been missed, so every client is closed with the resync code.
func TestInotifyOverflowResyncs(t *testing.T) {
	n, u := start(t, storageNode(t))
	var conns []*watchproto.Conn
	for range 2 {
		c, err := dial(t, u)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Subscribe(context.Background(), []watchproto.Sub{sdmfSub(t, 0)}); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	n.inotifyError(fsnotify.ErrEventOverflow) // what the event loop does with fw.Errors
	for _, c := range conns {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("connection open after an inotify overflow")
		}
		if err := c.Err(); websocket.CloseStatus(err) != watchproto.CloseOverflow || !watchproto.NeedsResync(err) {
			t.Errorf("connection ended with %v, want close status %d", err, watchproto.CloseOverflow)
		}
	}
}
