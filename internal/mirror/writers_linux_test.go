package mirror_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
)

// leasesWork reports whether this file system grants read leases (the
// kernel's word on writers); without them nothing can be asked.
func leasesWork(t *testing.T, dir string) bool {
	p := filepath.Join(dir, "lease-probe")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, _, e := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_SETLEASE, syscall.F_RDLCK)
	syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_SETLEASE, syscall.F_UNLCK)
	return e == 0
}

// TestOpenForWritingNotUploaded: a file a writer holds open, paused for
// many quiet periods halfway through, is not uploaded half-written;
// once the writer closes it, it is uploaded once, whole. Size and mtime
// stand still during the pause, so the quiet period alone would upload
// the first half.
func TestOpenForWritingNotUploaded(t *testing.T) {
	w := newWorld(t, 3)
	root := w.mkdir(t)
	dir, rec := w.pushing(t, root, func(*mirror.Mirror) {})
	if !leasesWork(t, dir) {
		t.Skip("this file system grants no read lease: the kernel cannot tell writers")
	}
	half := []byte(strings.Repeat("first half, ", 1000))
	whole := append(append([]byte{}, half...), strings.Repeat("second half. ", 1000)...)
	p := filepath.Join(dir, "slow.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(half); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // ten quiet periods, the file open
	if u := uploadsOf(rec, "slow.bin"); len(u) != 0 {
		t.Fatalf("uploaded while open for writing: %+v", u)
	}
	if _, err := f.Write(whole[len(half):]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, generous, "the upload once closed", func() bool { return len(uploadsOf(rec, "slow.bin")) > 0 })
	time.Sleep(200 * time.Millisecond)
	if u := uploadsOf(rec, "slow.bin"); len(u) != 1 || u[0].Size != int64(len(whole)) {
		t.Fatalf("uploads %+v, want one of %d bytes", u, len(whole))
	}
	b := w.replica(t, root, "b")
	waitFor(t, generous, "the whole file on b", func() bool {
		got, _ := os.ReadFile(b.path("slow.bin"))
		return bytes.Equal(got, whole)
	})
	if warns := rec.of("warning"); len(warns) != 0 {
		t.Errorf("warnings: %+v", warns)
	}
}
