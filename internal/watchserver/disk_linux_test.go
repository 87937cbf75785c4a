package watchserver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// TestDiskSourceSkipsStrays: the Linux reader takes only regular files
// named by a canonical share number 0-255 as shares, skipping immutable
// shares, journal and temporary files, directories, links and FIFOs (a
// FIFO must not block the read), as the storage server itself does.
func TestDiskSourceSkipsStrays(t *testing.T) {
	share := func(name, n string) []byte {
		return testutil.ReadTestdata(t, "grid", "shares", "storage1", name[:2], name, n)
	}
	sdmf, mdmf := share("dqrkoatek6jcaq4mqnlomig4wq", "0"), share("kv6sea4n2wbyw7fv6ze6rddfwm", "0")
	chk := share("ocbscko7natvut7km2csd3hhgm", "1")
	src := DiskSource{Dir: t.TempDir()}
	si := testSI(7)
	dir := src.ShareDir(si)
	if err := os.MkdirAll(filepath.Join(dir, "3"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"0": sdmf, "200": mdmf, "00": sdmf, "256": sdmf, "-1": sdmf, "1.new": sdmf, "6": chk}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("0", filepath.Join(dir, "4")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "5"), 0o644); err != nil {
		t.Fatal(err)
	}
	states, err := src.MutableShares(context.Background(), si)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, st := range states {
		got = append(got, st.Shnum)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 200}) {
		t.Fatalf("shares %v, want [0 200]", got)
	}
	want := map[int][]byte{0: sdmf, 200: mdmf}
	for _, st := range states {
		ref, ok, err := ReadShare(bytes.NewReader(want[st.Shnum]), st.Shnum)
		if !ok || err != nil || ref != st {
			t.Errorf("share %d: %+v, want %+v (%v)", st.Shnum, st, ref, err)
		}
	}
	if st, err := src.MutableShares(context.Background(), testSI(8)); err != nil || st != nil {
		t.Fatalf("absent storage index: %v %v", st, err)
	}
}

// TestDiskSourceUnreadable: a storage index whose shares cannot be read
// is an error (the subscription is refused "unavailable"), not "no
// share": its directory is not a directory, or a share is damaged.
func TestDiskSourceUnreadable(t *testing.T) {
	src := DiskSource{Dir: t.TempDir()}
	notDir, damaged := testSI(9), testSI(10)
	if err := os.MkdirAll(filepath.Dir(src.ShareDir(notDir)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src.ShareDir(notDir), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sdmf := testutil.ReadTestdata(t, "grid", "shares", "storage1", "dq", "dqrkoatek6jcaq4mqnlomig4wq", "0")
	if err := os.MkdirAll(src.ShareDir(damaged), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src.ShareDir(damaged), "1"), sdmf[:700], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, si := range [][]byte{notDir, damaged} {
		if st, err := src.MutableShares(context.Background(), si); err == nil {
			t.Errorf("%x: read %v, want an error", si, st)
		}
	}
}
