package cli

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func statusJSONOf(t *testing.T, args ...string) (int, *statusJSON, string) {
	t.Helper()
	code, out, errOut := run(t, args...)
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s\n%s", err, out, errOut)
	}
	return code, &st, errOut
}

func TestStatusOldSDMF(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 3)
	code, out, errOut := run(t, gridArgs(t, g, "status", o.Cap)...)
	if code != ExitOK || !strings.Contains(out, "best version: seqnum 1, 3-of-10, 10 shares, recoverable") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, st, _ := statusJSONOf(t, gridArgs(t, g, "status", "--json", o.Cap)...)
	if code != ExitOK || st.Best == nil || st.Best.Seqnum != 1 || st.Best.K != 3 || st.Best.N != 10 ||
		st.StorageIndex != cap.FormatSI(cap.MustParse(o.Cap).StorageIndex()) || len(st.Servers) != 3 || st.Best.RootHash == "" {
		t.Fatalf("json: %+v", st)
	}
}

func TestStatusRealGridSeqnums(t *testing.T) {
	g := testgrid.RealGrid(t)
	seqRE := regexp.MustCompile(`seqnum (\d+)`)
	for _, o := range testutil.GridObjects(t) {
		m := seqRE.FindStringSubmatch(o.Note)
		if m == nil {
			continue
		}
		want, _ := strconv.ParseUint(m[1], 10, 64)
		for _, c := range []string{o.Cap, o.Verifycap} {
			code, st, errOut := statusJSONOf(t, gridArgs(t, g, "status", "--json", c)...)
			if code != ExitOK || st.Best == nil || st.Best.Seqnum != want {
				t.Errorf("%s: exit %d best %+v, want seqnum %d; %s", o.Name, code, st.Best, want, errOut)
			}
		}
	}
	// Immutable and literal caps.
	code, out, _ := run(t, gridArgs(t, g, "status", gridObjectNamed(t, "chk-300k").Cap)...)
	if code != ExitOK || !strings.Contains(out, "immutable, 3-of-5: recoverable") {
		t.Errorf("chk status: %d\n%s", code, out)
	}
	code, out, _ = run(t, gridArgs(t, g, "status", gridObjectNamed(t, "lit").Cap)...)
	if code != ExitOK || !strings.HasPrefix(out, "URI:LIT: a literal cap") || strings.Contains(out, "storage index") {
		t.Errorf("lit status: %d\n%s", code, out)
	}
}

func TestStatusNewerAndUncoordinated(t *testing.T) {
	g := testgrid.New(t, 5)
	priv := testgrid.Key(t)
	c := cap.NewMutable(cap.SDMF, false, priv)
	g.PutVersion(c, testgrid.Encode(t, priv, c, []byte("one"), 1, 3, 5), testgrid.RoundRobin(5, 0, 1, 2, 3, 4))
	g.PutVersion(c, testgrid.Encode(t, priv, c, []byte("two"), 2, 3, 5), map[int]int{0: 0, 1: 1})
	code, out, _ := run(t, gridArgs(t, g, "status", c.String())...)
	if code != ExitOK || !strings.Contains(out, "best version: seqnum 1") ||
		!strings.Contains(out, "newer version NOT recoverable: seqnum 2, 2 of the 3 shares needed") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	code, out, _ = run(t, gridArgs(t, g, "cat", c.String())...)
	if code != ExitOK || out != "one" {
		t.Fatalf("cat: %d %q", code, out)
	}

	a := testgrid.Encode(t, priv, c, []byte("writer A"), 3, 2, 4)
	b := testgrid.Encode(t, priv, c, []byte("writer B"), 3, 2, 4)
	g.PutVersion(c, a, map[int]int{0: 0, 1: 1})
	g.PutVersion(c, b, map[int]int{2: 2, 3: 3})
	code, st, _ := statusJSONOf(t, gridArgs(t, g, "status", "--json", c.String())...)
	if code != ExitOK || len(st.Uncoordinated) != 1 || st.Uncoordinated[0].Seqnum != 3 || len(st.Uncoordinated[0].RootHashes) != 2 {
		t.Fatalf("uncoordinated: %+v", st.Uncoordinated)
	}
}

func TestStatusUnrecoverable(t *testing.T) {
	g, o := testgrid.SDMFOld(t, 5)
	for i := 0; i < 4; i++ {
		g.Servers[i].Stop()
	}
	code, out, errOut := run(t, gridArgs(t, g, "status", "--timeout", "5s", o.Cap)...)
	if code != ExitFailure || !strings.Contains(out, "refused") || !strings.Contains(errOut, "found 2 of the 3 shares needed") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// In words: the op names ("retrieve: ", "status: ") are for -v only.
	if !strings.HasPrefix(errOut, "tahoe-watch: storage index ") {
		t.Errorf("error line %q: want it in words, without op names", errOut)
	}
	if _, _, errOut = run(t, gridArgs(t, g, "status", "--debug", "--timeout", "5s", o.Cap)...); !strings.Contains(errOut, "retrieve: storage index") {
		t.Errorf("--debug: %q, want the op name", errOut)
	}
}
