package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, args)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != ExitOK || !strings.HasPrefix(out, "tahoe-watch dev") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"version", "extra"}, {"--no-such-flag"}, {"--once"}, {"--json", "--", "true"}} {
		code, _, errOut := run(t, args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
		if !strings.HasPrefix(errOut, "tahoe-watch: ") || strings.Contains(errOut, "goroutine") {
			t.Errorf("%v: stderr %q is not one clear line", args, errOut)
		}
	}
}

// TestBadFlagValueSaysWhatItWants: a value of the wrong type is told
// what the flag takes, in words, not in the Go parser's terms.
func TestBadFlagValueSaysWhatItWants(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--count", "x"}, `--count "x": want a whole number`},
		{[]string{"--once=maybe"}, `--once "maybe": want true or false`},
		{[]string{"--debounce", "5"}, `--debounce "5": want a duration with a unit`},
		{[]string{"sync", "--poll", "soon"}, `--poll "soon": want a duration`},
	} {
		code, _, errOut := run(t, append(c.args, "URI:SSK-RO:a:b")...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "strconv") || strings.Contains(errOut, "time:") {
			t.Errorf("%q: exit %d, stderr %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

func TestBareCommandShowsHelp(t *testing.T) {
	code, out, _ := run(t)
	if code != ExitOK || !strings.Contains(out, "Usage:") {
		t.Fatalf("bare tahoe-watch: exit %d, out %q", code, out)
	}
}
