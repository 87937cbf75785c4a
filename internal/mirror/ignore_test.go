package mirror

import (
	"strings"
	"testing"
)

func TestIgnorer(t *testing.T) {
	ig, err := newIgnorer([]string{"*.tmp", "/top-only"}, []byte("# comment\n\nbuild\n/secret/*.key\n  spaced.txt  \n"))
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]bool{
		"a.tmp": true, "x/y/a.tmp": true, "a.tmpx": false,
		"build": true, "build/out.o": true, "src/build/out.o": true, "builder": false,
		"secret/id.key": true, "secret/id.key/inner": true, "x/secret/id.key": false, "secret/readme": false,
		"top-only": true, "top-only/x": true, "x/top-only": false,
		"spaced.txt": true, "# comment": false,
		StateDir: true, StateDir + "/state.jsonl": true, "x/" + StateDir: false,
		IgnoreFile: true, "x/" + IgnoreFile: false,
		tmpPrefix + "123": true, "d/" + tmpPrefix + "1/x": true,
		"": false, "plain.txt": false,
	} {
		if got := ig.ignored(rel); got != want {
			t.Errorf("ignored(%q) = %v, want %v", rel, got, want)
		}
	}
	for _, bad := range []string{"[", "a/[b"} {
		if _, err := newIgnorer([]string{bad}, nil); err == nil {
			t.Errorf("--ignore %q accepted", bad)
		}
		if _, err := newIgnorer(nil, []byte("ok\n"+bad+"\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("ignore file line %q: %v", bad, err)
		}
	}
}

// FuzzIgnorer: any ignore file and path is handled without a panic, and
// the state directory is ignored whatever the patterns.
func FuzzIgnorer(f *testing.F) {
	f.Add([]byte("*.tmp\n/build\n# c\n"), "a/b.tmp")
	f.Add([]byte("[\n"), "x")
	f.Add([]byte("a/**/b\n\\\n"), ".tahoe-watch/state.jsonl")
	f.Fuzz(func(t *testing.T, file []byte, rel string) {
		ig, err := newIgnorer(nil, file)
		if err != nil {
			return
		}
		ig.ignored(rel)
		if !ig.ignored(StateDir + "/x") {
			t.Error("state directory not ignored")
		}
	})
}
