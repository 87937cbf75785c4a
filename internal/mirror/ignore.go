package mirror

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"strings"
)

// IgnoreFile is the file at the top of LOCALDIR whose lines are ignore
// patterns, like Syncthing's .stignore. It never leaves the machine.
const IgnoreFile = ".tahoe-watch-ignore"

// ignorer decides which local paths two-way sync leaves alone: the
// state directory, the mirror's temporary files, the ignore file and
// the user's patterns.
//
// A pattern is a path.Match glob. Without a slash it is matched against
// every name along a path ("*.tmp" ignores a/b.tmp, "build" ignores
// build/x and a/build/y); with one (a leading slash is dropped, so
// "/build" is build at the top only) against the path from LOCALDIR's
// top and each of its parents ("a/*.log" ignores a/x.log and a/x.log/y). A line of the file that starts with #
// and a blank line are skipped.
type ignorer struct {
	patterns []pattern
}

// pattern is one glob; a rooted one is matched against paths from the
// top, the others against names.
type pattern struct {
	glob   string
	rooted bool
}

// newIgnorer checks pats (from flags) and the ignore file's contents.
func newIgnorer(pats []string, file []byte) (*ignorer, error) {
	ig := &ignorer{}
	for _, p := range pats {
		if err := ig.add(p); err != nil {
			return nil, fmt.Errorf("--ignore %q: %w", p, err)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(file))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := ig.add(line); err != nil {
			return nil, fmt.Errorf("%s line %d: %q: %w", IgnoreFile, n, line, err)
		}
	}
	return ig, nil
}

func (ig *ignorer) add(p string) error {
	p = strings.TrimSpace(p)
	rooted := strings.Contains(p, "/")
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return fmt.Errorf("empty pattern")
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("not a glob: %w", err)
	}
	ig.patterns = append(ig.patterns, pattern{glob: p, rooted: rooted})
	return nil
}

// ignored reports whether rel (slash-separated, below LOCALDIR) or a
// directory above it is left alone.
func (ig *ignorer) ignored(rel string) bool {
	if rel == "" {
		return false
	}
	parts := strings.Split(rel, "/")
	if parts[0] == StateDir || rel == IgnoreFile {
		return true
	}
	for i, name := range parts {
		if strings.HasPrefix(name, tmpPrefix) {
			return true
		}
		prefix := strings.Join(parts[:i+1], "/")
		for _, p := range ig.patterns {
			subject := name
			if p.rooted {
				subject = prefix
			}
			if ok, _ := path.Match(p.glob, subject); ok {
				return true
			}
		}
	}
	return false
}
