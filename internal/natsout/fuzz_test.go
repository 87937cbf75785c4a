package natsout_test

import (
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/natsout"
)

// FuzzIdentity feeds names written by someone else (directory entry
// paths) and odd types and warning kinds through the identity: the
// subject must stay three tokens below the prefix, and the Nats-Msg-Id
// a short header value of safe characters.
func FuzzIdentity(f *testing.F) {
	root := readCap(f, 0)
	f.Add("", "changed", "", uint64(1))
	f.Add("a/b c/ä\r\n", "warning", "uncoordinated", uint64(0))
	f.Add("x", "a.b>*", "k.*", uint64(1<<63))
	f.Add("", strings.Repeat("w", 500), strings.Repeat(".", 500), uint64(2))
	f.Fuzz(func(t *testing.T, path, typ, warning string, seq uint64) {
		e := events.Event{Type: events.Type(typ), Warning: warning, Path: path, Root: root, Seqnum: seq}
		id, err := natsout.IdentityOf(e)
		if err != nil {
			t.Fatal(err)
		}
		subj := id.Subject("p.q")
		if toks := strings.Split(subj, "."); len(toks) != 4 || strings.ContainsAny(subj, " \t\r\n*>") {
			t.Errorf("subject %q", subj)
		}
		m := id.MsgID()
		if len(m) > 200 || strings.Trim(m, "abcdefghijklmnopqrstuvwxyz0123456789-._") != "" {
			t.Errorf("msg id %q", m)
		}
	})
}
