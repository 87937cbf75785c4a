package identity

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func copyNode(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := testutil.Testdata(t, "grid", "nodes", "storage1")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestRealTahoeNode(t *testing.T) {
	id, err := LoadOrCreate(copyNode(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := id.SPKIHash(); got != "cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg" {
		t.Errorf("SPKI hash %s", got)
	}
	if id.Swissnum != "ybfivklbe4gewouzxckbuc6fhlwwf777" {
		t.Errorf("swissnum %s", id.Swissnum)
	}
	tub, _ := nurl.FURLTubID(id.FURL)
	if [20]byte(tub) != id.NodeID {
		t.Error("node id is not the tub id")
	}
}

func TestFreshNodeIsCreatedOnceAndReloaded(t *testing.T) {
	base := t.TempDir()
	a, err := LoadOrCreate(base)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreate(base)
	if err != nil {
		t.Fatal(err)
	}
	if a.SPKIHash() != b.SPKIHash() || a.Swissnum != b.Swissnum || len(a.Swissnum) != 32 {
		t.Fatalf("identity changed on reload or bad swissnum %q", a.Swissnum)
	}
	if a.Leaf.NotAfter.Sub(a.Leaf.NotBefore).Hours() < 24*365*50 {
		t.Error("certificate should be valid for decades")
	}
	if _, err := nurl.Parse(a.NURL([]string{"127.0.0.1:1234"}).String()); err != nil {
		t.Error(err)
	}
}

func TestBadInputsAreUsageErrors(t *testing.T) {
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "private"), 0o700)
	os.WriteFile(filepath.Join(base, "private", "node.pem"), []byte("garbage"), 0o600)
	if _, err := LoadOrCreate(base); !errkind.Is(err, errkind.Usage) {
		t.Errorf("bad node.pem: %v", err)
	}
	if _, err := LoadOrCreate(filepath.Join(base, "missing")); !errkind.Is(err, errkind.Usage) {
		t.Errorf("missing dir: %v", err)
	}
}
