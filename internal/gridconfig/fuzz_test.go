package gridconfig

import (
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func FuzzServersYAML(f *testing.F) {
	f.Add(testutil.ReadTestdata(f, "grid", "servers.yaml"))
	f.Add([]byte("storage:\n  v0-x:\n    ann: {anonymous-storage-FURL: 'pb://x@y/z'}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		servers, err := ParseServersYAML("f", b)
		for _, s := range servers {
			if err == nil && s.PermutationSeed == nil {
				t.Fatalf("server %s has no permutation seed", s.ID)
			}
		}
	})
}

func FuzzAnnouncementCache(f *testing.F) {
	f.Add(testutil.ReadTestdata(f, "grid", "nodes", "client", "private", "introducer_default_cache.yaml"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseAnnouncementCache("f", b)
	})
}

func FuzzTahoeCfg(f *testing.F) {
	f.Add(testutil.ReadTestdata(f, "grid", "nodes", "client", "tahoe.cfg"))
	f.Add([]byte("[client]\nshares.needed: 2\n  more\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseTahoeCfg("f", b)
		if err != nil {
			return
		}
		if e, err := EncodingFrom(c); err == nil && (e.Needed > e.Total || e.Needed < 1) {
			t.Fatalf("accepted encoding %+v", e)
		}
	})
}
