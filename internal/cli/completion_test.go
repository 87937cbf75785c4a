package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCompletionHelper is not a test: the bash completion test runs the
// test binary as tahoe-watch through it (the os/exec helper-process
// pattern), so the completion script calls the real command tree.
func TestCompletionHelper(t *testing.T) {
	if os.Getenv("TAHOE_WATCH_TEST_AS_CLI") != "1" {
		t.Skip("helper process for TestBashCompletion")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(Main(args))
}

// TestCompletionCommands checks cobra's completion command is present for
// every shell.
func TestCompletionCommands(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash":       "__start_tahoe-watch",
		"zsh":        "#compdef tahoe-watch",
		"fish":       "complete -c tahoe-watch",
		"powershell": "Register-ArgumentCompleter",
	} {
		code, out, errOut := run(t, "completion", shell)
		if code != ExitOK || !strings.Contains(out, marker) {
			t.Errorf("completion %s: exit %d, stderr %q, script lacks %q", shell, code, errOut, marker)
		}
	}
}

// TestBashCompletion sources the generated bash script in a real bash and
// completes partial command lines with it.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	code, script, _ := run(t, "completion", "bash")
	if code != ExitOK {
		t.Fatalf("completion bash: exit %d", code)
	}
	dir := t.TempDir()
	scriptFile := filepath.Join(dir, "tahoe-watch.bash")
	if err := os.WriteFile(scriptFile, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	// complete LINE... prints the candidates bash would offer for the
	// words, the last being the one under the cursor.
	driver := `
tahoe-watch() { TAHOE_WATCH_TEST_AS_CLI=1 "$SELF" -test.run='^TestCompletionHelper$' -- "$@"; }
# Without the bash-completion package, stand in for the one function of
# it the script needs (the script tries _init_completion first).
if ! declare -F _get_comp_words_by_ref >/dev/null; then
  _get_comp_words_by_ref() {
    cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"
    words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
  }
fi
# compopt only works inside a completion bash itself started.
compopt() { :; }
source "$SCRIPT"
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
COMP_TYPE=9
__start_tahoe-watch tahoe-watch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`
	complete := func(words ...string) []string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bash, append([]string{"--noprofile", "--norc", "-c", driver, "bash"}, words...)...)
		cmd.Env = append(os.Environ(), "SELF="+self, "SCRIPT="+scriptFile,
			"TAHOE_WATCH_CONFIG="+filepath.Join(dir, "none.yaml"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("bash completion of %q: %v\n%s", words, err, stderr.String())
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				got = append(got, l)
			}
		}
		return got
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"tahoe-watch", "ser"}, "serve"},
		{[]string{"tahoe-watch", "vers"}, "version"},
		{[]string{"tahoe-watch", "serve", "--base"}, "--base-dir"},
		{[]string{"tahoe-watch", "completion", "z"}, "zsh"},
	} {
		got := complete(tc.words...)
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("completing %q offered %q, want just %q", tc.words, got, tc.want)
		}
	}
	if got := complete("tahoe-watch", "gen-"); len(got) != 0 {
		t.Errorf("the hidden gen-man command is offered: %q", got)
	}
}
