package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// TestPutFilePrintsWriteCap: a new mutable file made from a FILE prints
// its write cap in full (as from stdin), and that cap replaces it.
func TestPutFilePrintsWriteCap(t *testing.T) {
	g := testgrid.New(t, 5)
	writeEnv(t)
	grid := g.WriteServersYAML(t.TempDir())
	for _, format := range []string{"sdmf", "mdmf"} {
		file := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(file, []byte("first"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := run(t, "put", "--grid", grid, "--format", format, file)
		if code != ExitOK {
			t.Fatalf("put %s FILE: %d %s", format, code, errOut)
		}
		c, err := cap.Parse(strings.TrimSpace(out))
		if err != nil || !c.IsMutable() || c.IsReadOnly() {
			t.Fatalf("put %s FILE printed %q, want a write cap", format, out)
		}
		if err := os.WriteFile(file, []byte("second"), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := run(t, "put", "--grid", grid, c.String(), file); code != ExitOK {
			t.Fatalf("put CAP FILE with the printed cap: %d %s", code, errOut)
		}
		mustCat(t, grid, c.String(), []byte("second"))
	}
}

// TestPutSpooledStdin: stdin longer than spoolLimit is spooled to a
// temporary file and written whole, as a new MDMF file, a replacement
// and a convergent upload (the same cap as from a FILE), leaving nothing
// in TMPDIR.
func TestPutSpooledStdin(t *testing.T) {
	g := testgrid.New(t, 5)
	writeEnv(t)
	t.Setenv(EnvConvergence, filepath.Join(t.TempDir(), "convergence"))
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	grid := g.WriteServersYAML(t.TempDir())
	data := random(spoolLimit + 1000)
	code, out, errOut := runIn(t, data, "put", "--grid", grid, "--format", "mdmf", "-")
	if code != ExitOK {
		t.Fatalf("put - (new): %d %s", code, errOut)
	}
	wc := strings.TrimSpace(out)
	mustCat(t, grid, wc, data)
	data2 := random(spoolLimit + 2000)
	if code, _, errOut := runIn(t, data2, "put", "--grid", grid, wc, "-"); code != ExitOK {
		t.Fatalf("put CAP -: %d %s", code, errOut)
	}
	mustCat(t, grid, wc, data2)

	_, dir, _ := run(t, "mkdir", "--grid", grid)
	dir = strings.TrimSpace(dir)
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, fromFile, _ := run(t, "put", "--grid", grid, file, dir+"/a")
	code, fromStdin, errOut := runIn(t, data, "put", "--grid", grid, "-", dir+"/b")
	if code != ExitOK || fromStdin != fromFile {
		t.Fatalf("put - DIR/PATH: %d %s; cap %q, from FILE %q", code, errOut, fromStdin, fromFile)
	}
	mustCat(t, grid, dir+"/b", data)
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("spooling left %d files in TMPDIR", len(left))
	}
}

// TestSpoolSmallInMemory: a stream within spoolLimit is held in memory
// (no temporary file), a longer one spooled with every byte kept.
func TestSpoolSmallInMemory(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing")) // any spool would fail
	small := random(1000)
	in, err := spool(bytes.NewReader(small))
	if err != nil || in.size != int64(len(small)) {
		t.Fatalf("spool of 1000 bytes: %v, size %d", err, in.size)
	}
	in.close()
	if _, err := spool(bytes.NewReader(random(spoolLimit + 1))); err == nil || !strings.Contains(err.Error(), "TMPDIR") {
		t.Fatalf("spool without a usable TMPDIR: %v, want an error naming TMPDIR", err)
	}
	t.Setenv("TMPDIR", t.TempDir())
	big := random(spoolLimit + 1)
	in, err = spool(bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	defer in.close()
	got := make([]byte, in.size)
	if _, err := in.r.ReadAt(got, 0); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("spooled %d bytes, read back %v (equal %v)", in.size, err, bytes.Equal(got, big))
	}
}
