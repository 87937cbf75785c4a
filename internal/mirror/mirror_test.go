package mirror_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// loadCaptures returns the grid's objects by read cap.
func loadCaptures(t *testing.T) map[string]testutil.GridObject {
	out := map[string]testutil.GridObject{}
	for _, o := range testutil.GridObjects(t) {
		out[o.Readcap] = o
	}
	return out
}

// listTree returns every file below dir (the state directory excluded)
// with the SHA-256 of its contents, and every directory with "/".
func listTree(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == ".":
		case rel == mirror.StateDir:
			return filepath.SkipDir
		case d.IsDir():
			out[filepath.ToSlash(rel)] = "/"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		}
		return nil
	})
	return out
}

// TestCapturedTreesMirrorExactly mirrors each captured directory of the
// real Tahoe 1.20 grid and compares every name and byte with the
// captures' plaintext hashes (or, for a child without one, with a
// separate read of the grid).
func TestCapturedTreesMirrorExactly(t *testing.T) {
	caps := loadCaptures(t)
	tg := testgrid.RealGrid(t)
	r := retrieve.NewReader(tg.Grid(), nil, nil)
	t.Cleanup(r.Close)
	ctx := context.Background()
	for _, o := range caps {
		if o.Kind != "dirnode" {
			continue
		}
		t.Run(o.Name, func(t *testing.T) {
			want := map[string]string{}
			expect(t, ctx, r, caps, o.Readcap, "", want)
			dir := t.TempDir()
			var prog []mirror.ProgressEvent
			m := open(t, cap.MustParse(o.Readcap), dir, tg.Grid(), mirror.Options{
				Progress: func(p mirror.ProgressEvent) { prog = append(prog, p) }})
			rec := &recorder{}
			if err := m.Sync(ctx, rec.emit); err != nil {
				t.Fatal(err)
			}
			got := listTree(t, dir)
			t.Logf("mirrored %q", sortedKeys(got))
			if !equalMaps(got, want) {
				t.Errorf("mirror differs:\n got %v\nwant %v", got, want)
			}
			if w := rec.of(events.Warning); len(w) > 0 {
				t.Errorf("warnings: %v", w)
			}
			last := prog[len(prog)-1]
			if !last.Done || last.FilesDone != last.Files || last.BytesDone != last.Bytes || last.Skipped != 0 {
				t.Errorf("last progress %+v", last)
			}
			noTemps(t, dir)
			st, err := os.Stat(filepath.Join(dir, mirror.StateDir, "state.jsonl"))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("state file: %v %v", st.Mode(), err)
			}
			state, _ := os.ReadFile(filepath.Join(dir, mirror.StateDir, "state.jsonl"))
			if bytes.Contains(state, []byte("URI:SSK:")) || bytes.Contains(state, []byte("URI:MDMF:")) || bytes.Contains(state, []byte("URI:DIR2:")) {
				t.Errorf("state holds a write cap:\n%s", state)
			}
		})
	}
}

// expect fills want with the tree below directory c, from the captures.
func expect(t *testing.T, ctx context.Context, r *retrieve.Reader, caps map[string]testutil.GridObject, c, prefix string, want map[string]string) {
	ents, err := r.ReadDir(ctx, cap.MustParse(c))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p := strings.TrimPrefix(prefix+"/"+e.Name, "/")
		child := cap.MustParse(e.ROCap)
		if child.IsDir() {
			want[p] = "/"
			expect(t, ctx, r, caps, e.ROCap, p, want)
			continue
		}
		if o, ok := caps[e.ROCap]; ok && o.PlaintextSHA256 != "" {
			want[p] = o.PlaintextSHA256
			continue
		}
		var b bytes.Buffer
		if _, err := r.Cat(ctx, &b, child); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b.Bytes())
		want[p] = hex.EncodeToString(sum[:])
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
