package gridconfig

import (
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func TestMalformedServersYAML(t *testing.T) {
	good := "pb://cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg@127.0.0.1:20101/ybfivklbe4gewouzxckbuc6fhlwwf777#v=1"
	for _, tc := range []struct{ name, yaml, where string }{
		{"syntax", "storage:\n  a: [\n", "f.yaml:2: "},
		{"not a mapping", "- 1\n", "f.yaml:1:"},
		{"storage is a list", "storage:\n  - x\n", "f.yaml:2:"},
		{"no ann", "storage:\n  v0-x:\n    nickname: a\n", "f.yaml:3:"},
		{"bad NURL", "storage:\n  v0-x:\n    ann:\n      anonymous-storage-NURLs:\n      - " + good + "\n      - pb://nope\n", "f.yaml:6:"},
		{"bad fURL", "storage:\n  v0-x:\n    ann:\n      anonymous-storage-FURL: pb://UPPER@x/y\n", "f.yaml:4:"},
		{"bad seed", "storage:\n  v0-x:\n    ann:\n      permutation-seed-base32: \"1\"\n", "f.yaml:4:"},
		{"ann type", "storage:\n  v0-x:\n    ann:\n      anonymous-storage-NURLs: {a: b}\n", "f.yaml:4:"},
	} {
		_, err := ParseServersYAML("f.yaml", []byte(tc.yaml))
		if !errkind.Is(err, errkind.Usage) || !strings.Contains(err.Error(), tc.where) {
			t.Errorf("%s: err %v, want kind usage at %s", tc.name, err, tc.where)
		}
	}
}

func TestAnnouncementCache(t *testing.T) {
	data := testutil.ReadTestdata(t, "grid", "nodes", "client", "private", "introducer_default_cache.yaml")
	servers, err := ParseAnnouncementCache("cache.yaml", data)
	if err != nil || len(servers) != 5 {
		t.Fatalf("%d servers, %v", len(servers), err)
	}
	// A cache entry with a broken NURL makes that server unreachable, with a reason.
	bad := "- key_s: v0-x\n  ann:\n    anonymous-storage-NURLs: [pb://nope]\n- {key_s: v0-y, ann: {nickname: old}}\n"
	servers, err = ParseAnnouncementCache("cache.yaml", []byte(bad))
	if err != nil || len(servers) != 2 || !strings.Contains(servers[0].Unreachable, "malformed") || servers[1].Unreachable == "" {
		t.Fatalf("%v %+v", err, servers)
	}
	if _, err := ParseAnnouncementCache("cache.yaml", []byte("- key_s: v0-x\n- 3\n")); err == nil || !strings.Contains(err.Error(), "cache.yaml:1:") {
		t.Fatalf("missing ann: %v", err)
	}
}

func TestTahoeCfg(t *testing.T) {
	cfg := "\ufeff# c\n[node]\nnickname = a\n  continued\n[client]\nShares.Needed: 2\n; x\nshares.total = 4\nshares.happy=3\n"
	c, err := ParseTahoeCfg("tahoe.cfg", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get("node", "nickname"); v != "a\ncontinued" {
		t.Errorf("nickname %q", v)
	}
	e, err := EncodingFrom(c)
	if err != nil || e != (Encoding{Needed: 2, Happy: 3, Total: 4}) || c.Line("client", "shares.total") != 8 {
		t.Errorf("encoding %+v %v line %d", e, err, c.Line("client", "shares.total"))
	}
	for _, tc := range []struct{ name, cfg, where string }{
		{"no section", "a = b\n", "tahoe.cfg:1:"},
		{"no delimiter", "[client]\n\nshares.needed\n", "tahoe.cfg:3:"},
		{"bad header", "[client\n", "tahoe.cfg:1:"},
		{"stray indent", "[client]\n\n  x\n", "tahoe.cfg:3:"},
		{"not a number", "[client]\nshares.needed = three\n", "tahoe.cfg:2:"},
		{"k > n", "[client]\nshares.total = 5\nshares.needed = 6\n", "tahoe.cfg:3:"},
		{"happy > n", "[client]\nshares.happy = 11\n", "tahoe.cfg:2:"},
	} {
		c, err := ParseTahoeCfg("tahoe.cfg", []byte(tc.cfg))
		if err == nil {
			_, err = EncodingFrom(c)
		}
		if !errkind.Is(err, errkind.Usage) || !strings.Contains(err.Error(), tc.where) {
			t.Errorf("%s: err %v, want usage error at %s", tc.name, err, tc.where)
		}
	}
}
