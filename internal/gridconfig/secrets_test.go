package gridconfig

import (
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// TestMalformedURLErrorsHideSwissnum: a grid file whose storage NURL or
// fURL is mistyped in the ways a swissnum can end up outside its place
// (a second path component, a "/" before the "@", a "/" in the
// fragment, a bad tub id) is refused with an error that names the file
// and line but never shows the swissnum.
func TestMalformedURLErrorsHideSwissnum(t *testing.T) {
	orig := string(testutil.ReadTestdata(t, "grid", "servers.yaml"))
	const swiss = "zidgc2w6vbnq3pfufqugvscjucjamlag"
	nurl := "pb://cdpsYT6enBFlGsf516TrAytYkxtRTmf29UlvdNzeM3s@127.0.0.1:20104/" + swiss + "#v=1"
	furl := "pb://qkg2p25342myv5xw6xj3pry2njiocbrk@tcp:127.0.0.1:20104/" + swiss
	if !strings.Contains(orig, nurl) || !strings.Contains(orig, furl) {
		t.Fatal("testdata/grid/servers.yaml changed; update the test")
	}
	for name, bad := range map[string][2]string{
		"NURL with a second path component": {nurl, strings.Replace(nurl, "#v=1", "/x#v=1", 1)},
		"NURL with a / before the @":        {nurl, strings.Replace(nurl, "@", "/"+swiss+"@", 1)},
		"NURL with a / in its fragment":     {nurl, strings.Replace(nurl, "#v=1", "#v=1/"+swiss, 1)},
		"NURL fragment before the path":     {nurl, strings.Replace(strings.Replace(nurl, "#v=1", "", 1), "/"+swiss, "#x/"+swiss, 1)},
		"fURL with a / before the @":        {furl, strings.Replace(furl, "@", "/"+swiss+"@", 1)},
	} {
		_, err := ParseServersYAML("servers.yaml", []byte(strings.Replace(orig, bad[0], bad[1], 1)))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, swiss) || !strings.Contains(msg, "servers.yaml:") {
			t.Errorf("%s: error shows the swissnum or no file:line: %s", name, msg)
		}
	}
}
