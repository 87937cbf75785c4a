package mirror_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// localProbe counts hashes per path and lets a test wait until the local
// watch has handled every event before a barrier file it creates
// (inotify delivers one watcher's events in order).
type localProbe struct {
	mu     sync.Mutex
	hashes map[string]int
	seen   map[string]bool
	drop   atomic.Bool
}

func probe(m *mirror.Mirror) *localProbe {
	p := &localProbe{hashes: map[string]int{}, seen: map[string]bool{}}
	mirror.SetHashHook(m, func(rel string) { p.mu.Lock(); p.hashes[rel]++; p.mu.Unlock() })
	mirror.SetLocalEventHook(m, func(rel string) bool {
		p.mu.Lock()
		p.seen[rel] = true
		p.mu.Unlock()
		return p.drop.Load()
	})
	return p
}

func (p *localProbe) hashed(rel string) int { p.mu.Lock(); defer p.mu.Unlock(); return p.hashes[rel] }

// settle creates and removes a barrier file in dir and waits until the
// local watch has seen it, so every earlier event was handled.
func (p *localProbe) settle(t *testing.T, dir, name string) {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, generous, "the local watch to see "+name, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.seen[name] })
	os.Remove(f)
}

// TestLocalWatchSparesHashing: a large file the mirror wrote and nobody
// touched is replaced on a remote change without being read (trusted by
// size and mtime, as the local watch saw no edit), and the mirror's own
// writes do not make it dirty.
func TestLocalWatchSparesHashing(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	w.link(t, root, "d/big.bin", w.upload(t, big))
	dir := t.TempDir()
	rec := &recorder{}
	m := open(t, root, dir, w.g, mirror.Options{Watch: watcher.Options{Poll: time.Hour, Refresh: time.Hour}})
	p := probe(m)
	run(t, m, rec)
	local := filepath.Join(dir, "d", "big.bin")
	waitFor(t, generous, "first mirror", hasContent(local, big))
	p.settle(t, dir, "barrier1")
	if !mirror.Trusted(m, "d/big.bin") {
		t.Fatal("the mirror's own write made d/big.bin dirty")
	}

	big2 := bytes.Repeat([]byte("fedcba9876543210"), 1<<16)
	w.link(t, root, "d/big.bin", w.upload(t, big2))
	waitFor(t, generous, "the remote change", hasContent(local, big2))
	if n := p.hashed("d/big.bin"); n != 0 {
		t.Errorf("d/big.bin hashed %d times; the local watch should vouch for it", n)
	}
	p.settle(t, dir, "barrier2")
	if !mirror.Trusted(m, "d/big.bin") {
		t.Error("replacing d/big.bin made it dirty")
	}
	if n := len(rec.of(mirror.Conflict)); n != 0 {
		t.Errorf("%d conflicts", n)
	}
	noTemps(t, dir)
}

// editInPlace writes same-size new contents into p and puts its mtime
// back, an edit no size and mtime check can see.
func editInPlace(t *testing.T, p string, data []byte) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// TestLiveEditKeepingSizeAndMTime: an edit that keeps size and mtime is
// seen by the local watch, so a remote change after it is a conflict and
// both versions are kept.
func TestLiveEditKeepingSizeAndMTime(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	w.link(t, root, "e.txt", w.upload(t, []byte("remote one")))
	dir := t.TempDir()
	rec := &recorder{}
	m := open(t, root, dir, w.g, mirror.Options{Watch: watcher.Options{Poll: time.Hour, Refresh: time.Hour}})
	p := probe(m)
	run(t, m, rec)
	e := filepath.Join(dir, "e.txt")
	waitFor(t, generous, "first mirror", hasContent(e, []byte("remote one")))
	p.settle(t, dir, "barrier1")

	editInPlace(t, e, []byte("local edit"))
	p.settle(t, dir, "barrier2")
	if mirror.Trusted(m, "e.txt") {
		t.Fatal("an edit left e.txt trusted")
	}
	w.link(t, root, "e.txt", w.upload(t, []byte("remote two")))
	waitFor(t, generous, "conflict event", func() bool { return len(rec.of(mirror.Conflict)) == 1 })
	checkConflict(t, e, "local edit", "remote two")
}

func checkConflict(t *testing.T, p, local, remote string) {
	t.Helper()
	if b, _ := os.ReadFile(p); string(b) != local {
		t.Errorf("local edit lost: %q", b)
	}
	copies, _ := filepath.Glob(p + ".conflict-*")
	if len(copies) != 1 {
		t.Fatalf("conflict copies %v", copies)
	}
	if b, _ := os.ReadFile(copies[0]); string(b) != remote {
		t.Errorf("conflict copy holds %q", b)
	}
}

// TestLocalWatchOverflow: when the local watch loses events (here they
// are dropped, then the overflow fsnotify reports is acted out), nothing
// is trusted any more: an edit the lost events carried, invisible to
// size and mtime, is still found by hashing and kept.
func TestLocalWatchOverflow(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	w.link(t, root, "o/f.txt", w.upload(t, []byte("remote one")))
	dir := t.TempDir()
	rec := &recorder{}
	m := open(t, root, dir, w.g, mirror.Options{Watch: watcher.Options{Poll: time.Hour, Refresh: time.Hour}})
	p := probe(m)
	run(t, m, rec)
	f := filepath.Join(dir, "o", "f.txt")
	waitFor(t, generous, "first mirror", hasContent(f, []byte("remote one")))
	p.settle(t, dir, "barrier1")

	p.drop.Store(true)
	editInPlace(t, f, []byte("lost edit!"))
	p.settle(t, dir, "barrier2")
	p.drop.Store(false)
	if !mirror.Trusted(m, "o/f.txt") {
		t.Fatal("dropped events were seen")
	}
	if !mirror.LocalOverflow(m) {
		t.Fatal("no local watch")
	}
	if mirror.Trusted(m, "o/f.txt") {
		t.Fatal("o/f.txt trusted after an overflow")
	}
	w.link(t, root, "o/f.txt", w.upload(t, []byte("remote two")))
	waitFor(t, generous, "conflict event", func() bool { return len(rec.of(mirror.Conflict)) == 1 })
	checkConflict(t, f, "lost edit!", "remote two")
	if p.hashed("o/f.txt") == 0 {
		t.Error("o/f.txt was not hashed after the overflow")
	}
}
