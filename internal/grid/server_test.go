package grid

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
)

const storage1NURL = "pb://cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg@127.0.0.1:20101/ybfivklbe4gewouzxckbuc6fhlwwf777#v=1"

func TestFromAnnouncement(t *testing.T) {
	s, err := FromAnnouncement("v0-x", Announcement{Nickname: "old",
		StorageFURL: "pb://zh6cjhq7hklxkmtvjcwhtcuk7zlieaev@tcp:127.0.0.1:20101/ybfivklbe4gewouzxckbuc6fhlwwf777"})
	if err != nil || !strings.Contains(s.Unreachable, "Foolscap") || len(s.TubID) != 20 {
		t.Fatalf("fURL-only server %+v, %v", s, err)
	}
	if _, err := s.Client(nil); err == nil {
		t.Fatal("client for a Foolscap-only server")
	}
	// No seed announced: a v0- id's key is the seed, as in Tahoe.
	id := "v0-rfu6li7sewtbwwdo33avlyqycpljgpxqxautee27nhk5ilvczaka"
	s, err = FromAnnouncement(id, Announcement{StorageNURLs: []string{storage1NURL}})
	if err != nil || len(s.PermutationSeed) != 32 || s.Unreachable != "" {
		t.Fatalf("%+v, %v", s, err)
	}
}

// TestWriteEnablerIDRule pins the documented rule for servers without a
// fURL (docs/grid.md): SHA-256("tahoe-watch server id v1:" || SPKI hash)[:20].
func TestWriteEnablerIDRule(t *testing.T) {
	n, err := nurl.Parse(storage1NURL)
	if err != nil {
		t.Fatal(err)
	}
	s := FromNURL(n)
	spki, _ := base64.RawURLEncoding.DecodeString(n.SPKIHash)
	sum := sha256.Sum256(append([]byte("tahoe-watch server id v1:"), spki...))
	if !bytes.Equal(s.WriteEnablerID(), sum[:20]) || !bytes.Equal(s.PermutationSeed, spki) || s.ID != "spki-"+n.SPKIHash {
		t.Fatalf("NURL-only server %+v", s)
	}
}

// TestWebSocketWithSamePin: the watch protocol reuses the client's pinned
// HTTP client and auth header to open a WebSocket on the same server.
func TestWebSocketWithSamePin(t *testing.T) {
	_, n := startTLS(t, newCert(t), authed(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		typ, msg, err := ws.Read(ctx)
		if err == nil {
			ws.Write(ctx, typ, append([]byte("echo "), msg...))
		}
		ws.Close(websocket.StatusNormalClosure, "")
	}))
	c := New(n, nil)
	defer c.Close()
	ctx := ctxTimeout(t, 10*time.Second)
	ws, _, err := websocket.Dial(ctx, c.URL("/watch/v1"), &websocket.DialOptions{HTTPClient: c.HTTPClient(), HTTPHeader: c.AuthHeader()})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || string(msg) != "echo hi" {
		t.Fatalf("%q, %v", msg, err)
	}
}

func TestMergeHints(t *testing.T) {
	a, _ := nurl.Parse(storage1NURL)
	b, _ := nurl.Parse(strings.Replace(storage1NURL, "127.0.0.1:20101", "[::1]:20101,127.0.0.1:20101", 1))
	other, _ := nurl.Parse(strings.Replace(storage1NURL, "ybfiv", "zzzzz", 1))
	m := mergeHints([]*nurl.NURL{a, other, b})
	if strings.Join(m.Hints, ",") != "127.0.0.1:20101,[::1]:20101" || len(a.Hints) != 1 {
		t.Fatalf("merged hints %v (first NURL now %v)", m.Hints, a.Hints)
	}
}
