package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestGenMan(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if code, _, errOut := run(t, "gen-man", dir); code != ExitOK {
		t.Fatalf("gen-man: exit %d: %s", code, errOut)
	}
	root := NewRootCommand(Streams{})
	root.InitDefaultCompletionCmd()
	var want []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c != root {
			return
		}
		want = append(want, c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if len(want) < 4 {
		t.Fatalf("only %d commands in the tree", len(want))
	}
	for _, c := range want {
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("no man page for %q: %v", c.CommandPath(), err)
			continue
		}
		page := string(b)
		if !strings.Contains(page, ".TH \"TAHOE-WATCH\" \"1\" \"Nov 2023\"") {
			t.Errorf("%s: header lacks the title or the SOURCE_DATE_EPOCH date:\n%.200s", name, page)
		}
		// Man pages escape dashes in names.
		if !strings.Contains(strings.ReplaceAll(page, `\-`, "-"), c.CommandPath()) {
			t.Errorf("%s does not mention %q", name, c.CommandPath())
		}
	}
	for _, hidden := range []string{"tahoe-watch-gen-man.1", "tahoe-watch-__complete.1"} {
		if _, err := os.Stat(filepath.Join(dir, hidden)); err == nil {
			t.Errorf("hidden command got a man page: %s", hidden)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tahoe-watch-completion-bash.1")); err != nil {
		t.Errorf("no man page for completion bash: %v", err)
	}
}

func TestGenManUsage(t *testing.T) {
	if code, _, _ := run(t, "gen-man"); code != ExitUsage {
		t.Errorf("gen-man without DIR: exit %d, want %d", code, ExitUsage)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if code, _, _ := run(t, "gen-man", t.TempDir()); code != ExitUsage {
		t.Errorf("gen-man with a bad SOURCE_DATE_EPOCH: exit %d, want %d", code, ExitUsage)
	}
}

// TestManPagesDocumentFlagsAndExitStatus: the watcher's page has the new
// flags and the exit statuses; every cap-taking command's page has
// --cap-file.
func TestManPagesDocumentFlagsAndExitStatus(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run(t, "gen-man", dir); code != ExitOK {
		t.Fatalf("gen-man: %s", errOut)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(string(b), `\-`, "-")
	}
	root := read("tahoe-watch.1")
	for _, want := range []string{"--cap-file", "--include", "--exclude", "--event", "--quiet", "--log-format", "--version", "Exit status", "127"} {
		if !strings.Contains(root, want) {
			t.Errorf("tahoe-watch.1 lacks %q", want)
		}
	}
	for _, c := range []string{"cat", "ls", "status", "put", "rm", "mkdir", "sync"} {
		if !strings.Contains(read("tahoe-watch-"+c+".1"), "--cap-file") {
			t.Errorf("tahoe-watch-%s.1 lacks --cap-file", c)
		}
	}
}
