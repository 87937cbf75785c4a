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

func TestBareCommandShowsHelp(t *testing.T) {
	code, out, _ := run(t)
	if code != ExitOK || !strings.Contains(out, "Usage:") {
		t.Fatalf("bare tahoe-watch: exit %d, out %q", code, out)
	}
}
