package gridconfig

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{
		"0": 0, "4096": 4096, "1G": 1e9, "1g": 1e9, "500MB": 500e6, "10GiB": 10 << 30, "10gib": 10 << 30,
		"3kB": 3000, "2Ki": 2048, "7MiB": 7 << 20, "5B": 5, "5i": 5,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "1T", "1 G", "-1", "1GIB", "1.5G", "1GBB", "99999999999999999999", "18446744073709551615G"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestParseTubPort(t *testing.T) {
	for in, want := range map[string]string{
		"tcp:20101:interface=127.0.0.1":      "127.0.0.1:20101",
		"tcp:3457":                           "0.0.0.0:3457",
		"3457":                               "0.0.0.0:3457",
		"tcp6:3457":                          "[::]:3457",
		`tcp:port=3457:interface=\:\:1`:      "[::1]:3457",
		"tcp:interface=10.0.0.1:port=3457":   "10.0.0.1:3457",
		" tcp:3457:backlog=50 ":              "0.0.0.0:3457",
		`tcp6:3457:interface=2001\:db8\:\:1`: "[2001:db8::1]:3457",
	} {
		if got, err := ParseTubPort(in); err != nil || got != want {
			t.Errorf("ParseTubPort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "disabled", "tcp:0", "tcp:99999", "tcp:1,tcp:2", "listen:tor", "unix:/x", "tcp:1:foo=bar"} {
		if _, err := ParseTubPort(bad); err == nil {
			t.Errorf("ParseTubPort(%q) accepted", bad)
		}
	}
}

// TestReadStorageNodeOfRealNode reads a tahoe.cfg written by Tahoe 1.20's
// create-node.
func TestReadStorageNodeOfRealNode(t *testing.T) {
	base := testutil.Testdata(t, "grid", "nodes", "storage1")
	n, err := ReadStorageNode(base)
	if err != nil {
		t.Fatal(err)
	}
	want := StorageNode{Found: true, Nickname: "storage1", TubPort: "tcp:20101:interface=127.0.0.1", Listen: "127.0.0.1:20101",
		Location: []string{"tcp:127.0.0.1:20101"}, StorageEnabled: true, ReservedSpace: 1e9, StorageDir: filepath.Join(base, "storage")}
	if n.Nickname != want.Nickname || n.Listen != want.Listen || n.TubPort != want.TubPort || !slices.Equal(n.Location, want.Location) ||
		!n.StorageEnabled || n.ReadOnly || n.ReservedSpace != want.ReservedSpace || n.StorageDir != want.StorageDir || !n.Found {
		t.Fatalf("got %+v\nwant %+v", *n, want)
	}
}

func TestReadStorageNodeDefaultsAndOptions(t *testing.T) {
	base := t.TempDir()
	n, err := ReadStorageNode(base)
	if err != nil || n.Found || !n.StorageEnabled || n.Listen != "" || n.Location != nil || n.StorageDir != filepath.Join(base, "storage") {
		t.Fatalf("no tahoe.cfg: %+v %v", n, err)
	}
	cfg := "[node]\nnickname = beta\ntub.location = tcp:example.org:3457, AUTO,\n" +
		"[storage]\nenabled = True\nreadonly = yes\nreserved_space = 10GiB\nstorage_dir = /srv/tahoe/storage\n"
	os.WriteFile(filepath.Join(base, "tahoe.cfg"), []byte(cfg), 0o600)
	n, err = ReadStorageNode(base)
	if err != nil {
		t.Fatal(err)
	}
	if !n.ReadOnly || n.ReservedSpace != 10<<30 || n.StorageDir != "/srv/tahoe/storage" || n.Listen != "" ||
		!slices.Equal(n.Location, []string{"tcp:example.org:3457", "AUTO"}) {
		t.Fatalf("got %+v", *n)
	}
	os.WriteFile(filepath.Join(base, "tahoe.cfg"), []byte("[storage]\nstorage_dir = shares-here\n"), 0o600)
	if n, _ = ReadStorageNode(base); n.StorageDir != filepath.Join(base, "shares-here") {
		t.Errorf("relative storage_dir: %s", n.StorageDir)
	}
}

func TestReadStorageNodeErrors(t *testing.T) {
	for _, tc := range []struct{ cfg, where string }{
		{"[storage]\nreserved_space = lots\n", "tahoe.cfg:2: reserved_space"},
		{"[storage]\n\nenabled = maybe\n", "tahoe.cfg:3"},
		{"[node]\ntub.port =\n", "tahoe.cfg:2: tub.port"},
		{"[node]\ntub.port = tcp:1,tcp:2\n", "tahoe.cfg:2: tub.port"},
		{"[node]\ntub.location =\n", "tahoe.cfg:2: tub.location"},
		{"[node]\nreveal-IP-address = false\n", "tahoe.cfg:2"},
	} {
		base := t.TempDir()
		os.WriteFile(filepath.Join(base, "tahoe.cfg"), []byte(tc.cfg), 0o600)
		_, err := ReadStorageNode(base)
		if !errkind.Is(err, errkind.Usage) || !strings.Contains(err.Error(), tc.where) {
			t.Errorf("%q: %v, want a usage error at %s", tc.cfg, err, tc.where)
		}
	}
}
