package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

func TestVersionFlagAndCommandAgree(t *testing.T) {
	code, flag, _ := run(t, "--version")
	code2, cmd, _ := run(t, "version")
	if code != ExitOK || code2 != ExitOK || flag != cmd || !strings.HasPrefix(flag, "tahoe-watch ") {
		t.Fatalf("--version %d %q, version %d %q", code, flag, code2, cmd)
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-01T00:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	got := mergeBuildInfo(buildInfo{version: "dev", commit: "none", date: "unknown"}, bi).String()
	for _, want := range []string{"tahoe-watch v1.2.3 ", "commit abc123, modified", "built 2026-12-01T00:00:00Z"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	// A release stamp wins over what Go recorded; "(devel)" is no version.
	bi.Main.Version = "(devel)"
	got = mergeBuildInfo(buildInfo{version: "v2.0.0", commit: "fff", date: "today"}, bi).String()
	if !strings.Contains(got, "v2.0.0 (commit fff, modified, built today") {
		t.Errorf("stamped: %q", got)
	}
	if got := mergeBuildInfo(buildInfo{version: "dev", commit: "none", date: "unknown"}, bi).String(); !strings.Contains(got, "tahoe-watch dev ") {
		t.Errorf("(devel): %q", got)
	}
}

func TestMistypedCommand(t *testing.T) {
	for arg, want := range map[string]string{
		"stauts": `unknown command "stauts"; did you mean status?`,
		"sycn":   `did you mean sync?`,
		"lss":    `did you mean ls?`,
		"frob":   `unknown command "frob"`,
	} {
		code, _, errOut := run(t, arg)
		if code != ExitUsage || !strings.Contains(errOut, want) || strings.Contains(errOut, "cap.Parse") {
			t.Errorf("%s: exit %d, stderr %q, want %q", arg, code, errOut, want)
		}
	}
}

// TestWatchFlagValuesCheckedFirst: bad values are exit 2 before the grid
// is even loaded (no grid is given, so a later check would say that).
func TestWatchFlagValuesCheckedFirst(t *testing.T) {
	const c = "URI:SSK-RO:aaaaaaaaaaaaaaaaaaaaaaaaaa:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--debounce", "-5s"}, "--debounce -5s"},
		{[]string{"--poll", "0"}, "--poll 0s: want at least 1s"},
		{[]string{"--poll", "500ms"}, "--poll 500ms"},
		{[]string{"--refresh", "10ms"}, "--refresh 10ms"},
		{[]string{"--on-busy", "bogus"}, `--on-busy "bogus"`},
		{[]string{"--once", "--count", "2"}, "--once and --count exclude each other"},
		{[]string{"--count", "-1"}, "--count -1"},
		{[]string{"--format", "{{.Nope}}"}, "no field Nope"},
		{[]string{"--format", "{{.Path"}, "--format"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"-v", "-q"}, "exclude each other"},
		{[]string{"--hook-timeout", "-1s"}, "--hook-timeout"},
		{[]string{"--signal", "FOO"}, "--signal"},
	} {
		code, _, errOut := run(t, append(tc.flags, c)...)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "no storage servers") {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.flags, code, errOut, tc.want)
		}
		goID := strings.Contains(errOut, "events.New") || strings.Contains(errOut, "hook.Parse") || strings.Contains(errOut, "logging:")
		if tc.flags[0] != "-v" && goID {
			t.Errorf("%v: a Go identifier in %q", tc.flags, errOut)
		}
	}
}

func TestErrorsInWords(t *testing.T) {
	// The op names are for developers: -v shows them.
	code, _, errOut := run(t, "URI:SSK-RO:x")
	if code != ExitUsage || strings.Contains(errOut, "cap.Parse") {
		t.Errorf("plain: %q", errOut)
	}
	if _, _, errOut = run(t, "-v", "URI:SSK-RO:x"); !strings.Contains(errOut, "cap.Parse:") {
		t.Errorf("-v: %q, want the op name", errOut)
	}
	e := errkind.E("a.Op", errkind.NotFound, errkind.E("b.Op", errkind.Other, "no entry %q", "x"))
	wrapped := errkind.E("c.Op", errkind.Other, errorf("reading: %w", e))
	if got := errkind.Message(wrapped); got != `reading: no entry "x"` {
		t.Errorf("Message = %q", got)
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func TestIgnoredFlagsWarn(t *testing.T) {
	_, _, errOut := run(t, "--signal", "USR1", "--debounce", "1s", "--server", "pb://x", "URI:SSK-RO:x")
	for _, want := range []string{"warning: --debounce is ignored", "warning: --signal is ignored"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
	if _, _, errOut = run(t, "--exec", "true", "--on-busy", "signal", "--signal", "USR1", "URI:SSK-RO:x"); strings.Contains(errOut, "warning") {
		t.Errorf("warned about flags in use: %q", errOut)
	}
}
