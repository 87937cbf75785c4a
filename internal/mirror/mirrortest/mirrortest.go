// Package mirrortest holds the helpers that the mirror's and the sync
// command's two-way tests share: writing a file into a replica and
// reading a replica's tree back.
package mirrortest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/mirror"
)

// WriteFile writes data at the slash path p below dir, making its
// parent directories; it fails t on error.
func WriteFile(t testing.TB, dir, p, data string) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Tree is what is below dir but the state directory and the ignore
// file (which stays on its machine): file contents by slash path, and
// directories as "/".
func Tree(dir string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == mirror.StateDir:
			return filepath.SkipDir
		case rel == mirror.IgnoreFile:
		case e.IsDir():
			out[rel] = "/"
		default:
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		}
		return nil
	})
	return out
}

// Describe lists a tree one path a line, in order, long contents cut
// to their first 40 bytes and their size.
func Describe(m map[string]string) string {
	var ks []string
	for k, v := range m {
		if len(v) > 40 {
			v = fmt.Sprintf("%.40s…(%d bytes)", v, len(v))
		}
		ks = append(ks, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(ks)
	return strings.Join(ks, "\n  ")
}
