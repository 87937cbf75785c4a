package nurl

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseKeepsSwissnum parses arbitrary NURLs and fURLs (from grid
// files, announcements and flags: the user's, or an introducer's) and
// checks that no error shows the secret part: nothing after the first
// "/" past the scheme, up to a "#", may appear in an error (eight bytes
// or more of it), however the string is malformed.
func FuzzParseKeepsSwissnum(f *testing.F) {
	good := "pb://cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg@127.0.0.1:20101/ybfivklbe4gewouzxckbuc6fhlwwf777#v=1"
	f.Add(good)
	f.Add(strings.Replace(good, "#v=1", "/extra#v=1", 1))
	f.Add(strings.Replace(good, "@", "/ybfivklbe4gewouzxckbuc6fhlwwf777@", 1))
	f.Add(strings.Replace(good, "#v=1", "", 1) + "#x/ybfivklbe4gewouzxckbuc6fhlwwf777")
	f.Add(strings.Replace(good, "pb://", "http://", 1))
	f.Add("pb://xgru5adv5qjfpyyfkexzgztavhcoyv7i@tcp:127.0.0.1:20101/ybfivklbe4gewouzxckbuc6fhlwwf777")
	f.Add("pb://xgru5adv5qjfpyyfkexzgztavhcoyv7i/ybfivklbe4gewouzxckbuc6fhlwwf777@h:1/x")
	f.Fuzz(func(t *testing.T, s string) {
		secret, public := secretPart(s)
		check := func(err error) {
			if err == nil || len(secret) < 8 {
				return
			}
			msg := err.Error()
			for i := 0; i+8 <= len(secret); i++ {
				if w := secret[i : i+8]; !strings.ContainsAny(w, `"\\`) && strings.Contains(msg, w) && !strings.Contains(public, w) {
					t.Fatalf("error for %q shows %q of its secret part: %s", s, secret[i:i+8], msg)
				}
			}
		}
		n, err := Parse(s)
		check(err)
		if err == nil {
			// The public parts may hold the swissnum's characters by
			// chance ("0" in a hash of zeros); what follows them may not.
			pub := "pb://" + n.SPKIHash + "@" + strings.Join(n.Hints, ",")
			if red := n.Redacted(); !strings.HasPrefix(red, pub) || strings.Contains(red[len(pub):], n.Swissnum) {
				t.Fatalf("Redacted %q shows swissnum", red)
			}
			again, err := Parse(n.String())
			if err != nil || again.String() != n.String() {
				t.Fatalf("reparse of %q: %v", n.Redacted(), err)
			}
		}
		_, err = FURLTubID(s)
		check(err)
		_, err = FURLSwissnum(s)
		check(err)
	})
}

// secretPart splits s into what follows the first "/" after the scheme,
// up to "#", and the rest (which errors may show).
func secretPart(s string) (secret, public string) {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	i := strings.IndexByte(s[start:], '/')
	if i < 0 {
		return "", s
	}
	from := start + i + 1
	secret, frag, _ := strings.Cut(s[from:], "#")
	public = s[:from] + "#" + frag
	return secret, public + strconv.Quote(public) // as %q shows it
}
