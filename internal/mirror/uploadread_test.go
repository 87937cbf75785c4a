package mirror_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/watcher"
)

// pushing opens two-way sync of root into a new directory with hooks
// set by the caller before it runs.
func (w *world) pushing(t *testing.T, root *cap.Mutable, hooks func(*mirror.Mirror)) (string, *recorder) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "a")
	m := open(t, root, dir, w.g, mirror.Options{Watch: watcher.Options{Poll: time.Hour, Refresh: time.Hour},
		Push: &mirror.Push{Editor: w.ed, Uploader: w.up, Device: "a", Quiet: 50 * time.Millisecond}})
	hooks(m)
	rec := &recorder{}
	run(t, m, rec)
	return dir, rec
}

// readCounter adds up the bytes read of each file, by uploads and by
// hashing.
type readCounter struct {
	mu    sync.Mutex
	bytes map[string]int64
	sizes map[string]int64
}

func (c *readCounter) hooks(m *mirror.Mirror) {
	mirror.SetReadHook(m, func(rel string, off int64, n int) { c.add(rel, int64(n)) })
	mirror.SetHashHook(m, func(rel string) { c.add(rel, c.size(rel)) })
}

func (c *readCounter) add(rel string, n int64) { c.mu.Lock(); c.bytes[rel] += n; c.mu.Unlock() }
func (c *readCounter) size(rel string) int64   { c.mu.Lock(); defer c.mu.Unlock(); return c.sizes[rel] }
func (c *readCounter) read(rel string) int64   { c.mu.Lock(); defer c.mu.Unlock(); return c.bytes[rel] }

func uploadsOf(rec *recorder, rel string) []events.Event {
	var out []events.Event
	for _, e := range rec.of(mirror.Uploaded) {
		if e.Path == rel {
			out = append(out, e)
		}
	}
	return out
}

// TestUploadReadsFileTwice: a new 1 MiB file is read twice to be
// uploaded (the convergent key, then the segments; the journal's hash
// comes from the first pass), and once when only touched.
func TestUploadReadsFileTwice(t *testing.T) {
	const size = 1 << 20
	w := newWorld(t, 3)
	root := w.mkdir(t)
	c := &readCounter{bytes: map[string]int64{}, sizes: map[string]int64{"big.bin": size}}
	dir, rec := w.pushing(t, root, c.hooks)
	p := filepath.Join(dir, "big.bin")
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, generous, "the upload", func() bool { return len(uploadsOf(rec, "big.bin")) == 1 })
	if n := c.read("big.bin"); n != 2*size {
		t.Errorf("upload read %d bytes of a %d-byte file (%.2f passes), want 2 passes", n, size, float64(n)/size)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	waitFor(t, generous, "the touched file read", func() bool { return c.read("big.bin") >= 3*size })
	time.Sleep(300 * time.Millisecond) // six quiet periods: room for a wrong upload
	if n := c.read("big.bin"); n != 3*size {
		t.Errorf("touching read %d more bytes, want one pass of %d", n-2*size, size)
	}
	if u := uploadsOf(rec, "big.bin"); len(u) != 1 {
		t.Errorf("a touch uploaded again: %d uploads", len(u))
	}
}

// TestEditDuringUploadNotLinked: a file rewritten halfway through its
// upload's second pass, to the same size and with its mtime put back (so
// size and mtime cannot tell), is not linked as the torn mix the upload
// read: the grid ends up with the new contents whole.
func TestEditDuringUploadNotLinked(t *testing.T) {
	const size = 1 << 20
	w := newWorld(t, 3)
	w.up.MaxSegmentSize = 128 << 10 // eight segments: the second pass is eight reads
	root := w.mkdir(t)
	first, second := make([]byte, size), make([]byte, size)
	rand.Read(first)
	rand.Read(second)
	var dir string
	var once sync.Once
	passes := 0
	edit := func(rel string, off int64, n int) {
		if rel != "torn.bin" {
			return
		}
		if off == 0 {
			passes++
		}
		if passes == 2 && off >= size/2 {
			once.Do(func() {
				p := filepath.Join(dir, "torn.bin")
				fi, err := os.Stat(p)
				if err != nil {
					t.Error(err)
					return
				}
				f, err := os.OpenFile(p, os.O_WRONLY, 0)
				if err == nil {
					_, err = f.WriteAt(second, 0)
					f.Close()
				}
				if err == nil {
					err = os.Chtimes(p, fi.ModTime(), fi.ModTime())
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
	}
	dir, rec := w.pushing(t, root, func(m *mirror.Mirror) { mirror.SetReadHook(m, edit) })
	b := w.replica(t, root, "b")
	if err := os.WriteFile(filepath.Join(dir, "torn.bin"), first, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(generous)
	for {
		got, _ := os.ReadFile(b.path("torn.bin"))
		if bytes.Equal(got, second) {
			break
		}
		if time.Now().After(deadline) {
			for _, e := range rec.evs {
				t.Logf("event %s %q %s", e.Type, e.Path, e.Message)
			}
			t.Fatalf("b holds %d bytes of torn.bin, not the second version (first: %v)", len(got), bytes.Equal(got, first))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if u := uploadsOf(rec, "torn.bin"); len(u) != 1 {
		t.Errorf("%d uploads, want the one of the whole second version", len(u))
	}
}
