package testgrid

import (
	"crypto/rsa"
	"sync"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
)

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyErr  error
)

// Key returns a signing key generated once per test binary: RSA key
// generation is slow, and tests that need distinct files can use
// distinct formats or directory flags (each gives another cap).
func Key(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() { key, keyErr = rsakey.Generate() })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return key
}

// Encode encodes plaintext as version seq of the mutable file c (a
// write cap) signed by priv, k-of-n.
func Encode(t testing.TB, priv *rsa.PrivateKey, c *cap.Mutable, plaintext []byte, seq uint64, k, n int) *mutable.Encoded {
	t.Helper()
	v := mutable.SDMF
	if c.FileFormat == cap.MDMF {
		v = mutable.MDMF
	}
	enc, err := mutable.Encode(priv, plaintext, mutable.Params{Version: v, K: k, N: n, Seqnum: seq})
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// PutVersion stores shares of an encoded version directly in the servers'
// share directories, as Tahoe's servers would hold them: share shnum goes
// to server place[shnum] (shares missing from place are not stored). The
// containers carry the write enabler a Tahoe client derives for each
// server from c's writekey, so later writes through the protocol work.
func (g *Grid) PutVersion(c *cap.Mutable, enc *mutable.Encoded, place map[int]int) {
	g.t.Helper()
	for shnum, server := range place {
		s := g.Servers[server]
		var id [20]byte
		copy(id[:], s.Info.WriteEnablerID())
		var we [32]byte
		copy(we[:], hashes.WriteEnabler(c.Writekey, s.Info.WriteEnablerID()))
		m := container.NewMutable(container.NewestMutableVersion, id, we)
		if err := m.Write(0, enc.Shares[shnum]); err != nil {
			g.t.Fatal(err)
		}
		g.PutShare(server, c.SI, shnum, m.Bytes())
	}
}

// RoundRobin places n shares on the given servers in turn.
func RoundRobin(n int, servers ...int) map[int]int {
	out := map[int]int{}
	for i := 0; i < n; i++ {
		out[i] = servers[i%len(servers)]
	}
	return out
}
