package container

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// realShares returns every share file captured from real Tahoe servers.
func realShares(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var doc struct {
		Shares map[string]string `json:"shares_base64"`
	}
	if err := json.Unmarshal(testutil.ReadTestdata(t, "sdmf-old-shares.json"), &doc); err != nil {
		t.Fatal(err)
	}
	for name, s := range doc.Shares {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		out["sdmf-old/"+name] = b
	}
	root := testutil.Testdata(t, "grid", "shares")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 10+40 {
		t.Fatalf("found only %d share files", len(out))
	}
	return out
}

func TestRealSharesParseAndRoundTrip(t *testing.T) {
	kinds := map[string]int{}
	for name, b := range realShares(t) {
		sh, err := Parse(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var got []byte
		switch {
		case sh.Mutable != nil:
			kinds["mutable v"+string(rune('0'+sh.Mutable.Version))]++
			got = sh.Mutable.Bytes()
			if len(sh.Mutable.Leases()) == 0 {
				t.Errorf("%s: no leases", name)
			}
		default:
			kinds["immutable v"+string(rune('0'+sh.Immutable.Version))]++
			got = sh.Immutable.Bytes()
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s: round trip changed the bytes", name)
		}
	}
	t.Logf("kinds: %v", kinds)
	if kinds["mutable v1"] != 10 || kinds["mutable v2"] == 0 || kinds["immutable v2"] == 0 {
		t.Errorf("unexpected mix of kinds %v", kinds)
	}
}

func TestSDMFOldShareHoldsSDMFPrefix(t *testing.T) {
	for name, b := range realShares(t) {
		sh, _ := Parse(b)
		if sh.Mutable == nil || sh.Mutable.Version != 1 {
			continue
		}
		// An SDMF share starts with version byte 0 and sequence number 1.
		d := sh.Mutable.Data()
		if len(d) < 9 || d[0] != 0 || !bytes.Equal(d[1:9], []byte{0, 0, 0, 0, 0, 0, 0, 1}) {
			t.Errorf("%s: data does not start with an SDMF v0 seqnum 1 prefix", name)
		}
	}
}

func TestNewMutableMatchesTahoeLayout(t *testing.T) {
	var node [20]byte
	var we [32]byte
	copy(node[:], "nodeid-nodeid-nodeid")
	copy(we[:], "write-enabler-write-enabler-....")
	m := NewMutable(2, node, we)
	b := m.Bytes()
	if len(b) != MutableDataOffset+4 {
		t.Fatalf("empty container is %d bytes, want %d", len(b), MutableDataOffset+4)
	}
	if !bytes.Equal(b[:27], []byte("Tahoe mutable container v2\n")) {
		t.Fatalf("magic %q", b[:32])
	}
	h, err := ParseMutableHeader(b)
	if err != nil || h.ExtraLeaseOffset != MutableDataOffset || h.DataLength != 0 {
		t.Fatalf("header %+v %v", h, err)
	}
}

func TestMutableWritesFollowTahoe(t *testing.T) {
	m := NewMutable(1, [20]byte{1}, [32]byte{2})
	m.AddOrRenewLease(NewLeaseRequest(bytes.Repeat([]byte{'r'}, 32), bytes.Repeat([]byte{'c'}, 32), time.Unix(1000, 0), [20]byte{3}))
	for i := 0; i < 5; i++ { // fill the slots and one extra lease
		m.AddOrRenewLease(NewLeaseRequest(bytes.Repeat([]byte{byte(i)}, 32), nil, time.Unix(1000, 0), [20]byte{3}))
	}
	if len(m.Extra) != 2 || len(m.Leases()) != 6 {
		t.Fatalf("extra %d leases %d", len(m.Extra), len(m.Leases()))
	}
	mustWrite(t, m, 10, []byte("hello"))
	if got := m.Data(); !bytes.Equal(got, append(make([]byte, 10), "hello"...)) {
		t.Fatalf("data %q", got)
	}
	m.Truncate(12)
	m.Truncate(100) // ignored, as in Tahoe 1.20
	if m.DataLength() != 12 {
		t.Fatalf("length %d", m.DataLength())
	}
	mustWrite(t, m, 14, []byte("!")) // the gap 12..14 must be zeroed again
	if got := m.Data(); !bytes.Equal(got[10:], []byte("he\x00\x00!")) {
		t.Fatalf("data %q", got[10:])
	}
	if got := m.ReadAt(13, 100); !bytes.Equal(got, []byte("\x00!")) {
		t.Fatalf("read %q", got)
	}
	if got := m.ReadAt(99, 1); len(got) != 0 {
		t.Fatalf("read past end %q", got)
	}
	b := m.Bytes()
	m2, err := ParseMutable(b)
	if err != nil || !bytes.Equal(m2.Bytes(), b) || len(m2.Extra) != 2 {
		t.Fatalf("reparse: %v", err)
	}
	// Renewal with the matching secret moves expiration forward only.
	if !m2.RenewLease(bytes.Repeat([]byte{'r'}, 32), 5) || m2.Slots[0].Expiration == 5 {
		t.Fatal("renewal went backwards or did not match")
	}
	if m2.Slots[0].RenewSecret != [32]byte(bytes.Repeat([]byte{'r'}, 32)) {
		t.Fatal("v1 stores cleartext secrets")
	}
	if err := m.Write(MaxMutableDataSize, []byte("x")); err == nil {
		t.Fatal("oversized write accepted")
	}
}

func TestV2HashesSecrets(t *testing.T) {
	m := NewMutable(2, [20]byte{}, [32]byte{})
	renew := bytes.Repeat([]byte{'r'}, 32)
	m.AddOrRenewLease(NewLeaseRequest(renew, renew, time.Unix(0, 0), [20]byte{}))
	if m.Slots[0].RenewSecret != HashSecret(renew) {
		t.Fatal("v2 must store BLAKE2b of the secret")
	}
	if !m.RenewLease(renew, 1<<31) || m.RenewLease([]byte("other"), 1) {
		t.Fatal("renewal matching by hash is wrong")
	}
}

func TestImmutableRoundTripAndLeases(t *testing.T) {
	im := &Immutable{Version: 2, LengthField: 5, Data: []byte("abcde")}
	im.AddOrRenewLease(NewLeaseRequest([]byte("r"), []byte("c"), time.Unix(0, 0), [20]byte{}))
	im.AddOrRenewLease(NewLeaseRequest([]byte("r"), []byte("c"), time.Unix(100, 0), [20]byte{}))
	if len(im.Leases) != 1 {
		t.Fatalf("renewal appended: %d leases", len(im.Leases))
	}
	b := im.Bytes()
	if !bytes.Equal(b[:12], append(ImmutableHeader(2, 5)[:8], 0, 0, 0, 1)) {
		t.Fatalf("header %x", b[:12])
	}
	im2, err := ParseImmutable(b)
	if err != nil || !bytes.Equal(im2.Data, im.Data) || !bytes.Equal(im2.Bytes(), b) {
		t.Fatalf("reparse %v", err)
	}
	if _, err := ParseImmutable(b[:20]); err == nil {
		t.Fatal("truncated file with a lease parsed")
	}
}

func TestCorruptInputsRejected(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("hello"), make([]byte, 12), append(MutableMagic(1), make([]byte, 60)...)} {
		if _, err := Parse(b); err == nil {
			t.Errorf("%q parsed", b)
		}
	}
}

func mustWrite(t *testing.T, m *Mutable, off uint64, d []byte) {
	t.Helper()
	if err := m.Write(off, d); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	for _, b := range realShares(f) {
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add(NewMutable(2, [20]byte{}, [32]byte{}).Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		sh, err := Parse(b)
		if err != nil {
			return
		}
		var out []byte
		if sh.Mutable != nil {
			out = sh.Mutable.Bytes()
			_ = sh.Mutable.ReadAt(3, 1<<40)
			_ = sh.Mutable.Write(uint64(len(b)%1000), []byte("x"))
		} else {
			out = sh.Immutable.Bytes()
		}
		if sh.Mutable != nil || sh.Immutable != nil {
			if _, err := Parse(out); err != nil {
				t.Fatalf("re-serialised share does not parse: %v", err)
			}
		}
		if !bytes.Equal(out, b) {
			t.Fatal("round trip changed bytes")
		}
	})
}

func BenchmarkParseMutable(b *testing.B) {
	m := NewMutable(2, [20]byte{}, [32]byte{})
	_ = m.Write(0, make([]byte, 1<<20))
	buf := m.Bytes()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := ParseMutable(buf); err != nil {
			b.Fatal(err)
		}
	}
}
