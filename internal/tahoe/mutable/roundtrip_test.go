package mutable

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
)

// sizesFor lists the plaintext sizes to try around a segment size.
func sizesFor(segsize int, big bool) []int {
	s := []int{0, 1, segsize - 1, segsize, segsize + 1, 3*segsize + 7}
	if big {
		s = append(s, 10<<20)
	}
	return s
}

// TestRoundTrip encodes and decodes SDMF and MDMF at the edge sizes with
// 1/1, 3/10, 7/10 and the format's largest N, from several k-subsets.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, v := range []Version{SDMF, MDMF} {
		for _, kn := range [][2]int{{1, 1}, {3, 10}, {7, 10}, {200, MaxShares}} {
			k, n := kn[0], kn[1]
			segsize := roundUp(DefaultSegmentSize, k)
			big := !testing.Short()
			for _, size := range sizesFor(segsize, big) {
				name := fmt.Sprintf("%v/%d-of-%d/%d", v, k, n, size)
				t.Run(name, func(t *testing.T) {
					plain := make([]byte, size)
					for i := range plain {
						plain[i] = byte(rng.Uint32())
					}
					roundTrip(t, plain, Params{Version: v, K: k, N: n, Seqnum: 7}, rng)
				})
			}
		}
	}
}

func roundTrip(t *testing.T, plain []byte, p Params, rng *rand.Rand) {
	e, err := Encode(key(t), plain, p)
	if err != nil {
		t.Fatal(err)
	}
	_, readkey, fp := keysOf(key(t))
	if len(e.Shares) != p.N {
		t.Fatalf("got %d shares", len(e.Shares))
	}
	checkParams(t, &e.Header, p, len(plain))
	shares := make([]*Share, p.N)
	for i, data := range e.Shares {
		if shares[i], err = ParseShare(i, data, fp); err != nil {
			t.Fatal(err)
		}
		if shares[i].Prefix.VersionID() != e.Header.VersionID() {
			t.Fatalf("share %d: version differs", i)
		}
	}
	if err := shares[p.N-1].Verify(); err != nil {
		t.Fatal(err)
	}
	for _, subset := range subsets(p.K, p.N, rng) {
		pick := make([]*Share, len(subset))
		for i, n := range subset {
			pick[i] = shares[n]
		}
		f, err := NewFile(readkey, pick)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Bytes()
		if err != nil {
			t.Fatalf("shares %v: %v", subset, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("shares %v: plaintext differs", subset)
		}
	}
}

// checkParams checks the header Encode chose against Tahoe's rules.
func checkParams(t *testing.T, h *Header, p Params, size int) {
	t.Helper()
	want := roundUp(size, p.K)
	if p.Version == MDMF {
		want = roundUp(DefaultSegmentSize, p.K)
	}
	if h.SegmentSize != int64(want) || h.DataLength != int64(size) || h.Seqnum != p.Seqnum || h.K != p.K || h.N != p.N {
		t.Fatalf("header %+v for %d bytes %+v", h.VersionID(), size, p)
	}
	if p.Version == MDMF && h.Layout.ShareData.Start != mdmfDataStart {
		t.Fatalf("MDMF share data at %d, Tahoe puts it at %d", h.Layout.ShareData.Start, mdmfDataStart)
	}
}

// subsets returns the first k, the last k and a random k share numbers.
func subsets(k, n int, rng *rand.Rand) [][]int {
	first, last := make([]int, k), make([]int, k)
	for i := range k {
		first[i], last[i] = i, n-k+i
	}
	return [][]int{first, last, rng.Perm(n)[:k]}
}

// TestStreamingRead reads a share the way a retriever does: a header, then
// the prefix PrefixNeeded asks for, then the block hash tree, then blocks.
func TestStreamingRead(t *testing.T) {
	plain := bytes.Repeat([]byte("streaming "), 40000)
	e, err := Encode(key(t), plain, Params{Version: MDMF, K: 3, N: 5, Seqnum: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, readkey, fp := keysOf(key(t))
	var dec *Decoder
	blocks := make([]map[int][]byte, e.Header.NumSegments())
	salts := make([][]byte, len(blocks))
	for _, shnum := range []int{4, 1, 2} {
		data := e.Shares[shnum]
		n, err := PrefixNeeded(data[:1])
		if err != nil || n != MaxHeaderLen {
			t.Fatalf("PrefixNeeded(1 byte) = %d, %v", n, err)
		}
		if n, err = PrefixNeeded(data[:n]); err != nil || int64(n) != e.Header.Layout.VerificationKey.End {
			t.Fatalf("PrefixNeeded(header) = %d, %v", n, err)
		}
		p, err := VerifyPrefix(shnum, data[:n], fp)
		if err != nil {
			t.Fatal(err)
		}
		bht := p.Layout.BlockHashTree
		s, err := NewShare(shnum, p, data[bht.Start:bht.End])
		if err != nil {
			t.Fatal(err)
		}
		if dec == nil {
			if dec, err = NewDecoder(&p.Header, readkey); err != nil {
				t.Fatal(err)
			}
		}
		for seg := range blocks {
			r := p.BlockRegion(seg)
			salt, b, err := s.VerifyBlock(seg, data[r.Start:r.End])
			if err != nil {
				t.Fatal(err)
			}
			if blocks[seg] == nil {
				blocks[seg] = map[int][]byte{}
			}
			blocks[seg][shnum], salts[seg] = b, salt
		}
	}
	var got []byte
	for seg := range blocks {
		p, err := dec.Segment(seg, salts[seg], blocks[seg])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p...)
	}
	if !bytes.Equal(got, plain) {
		t.Fatal("plaintext differs")
	}
}

// TestPrivateKeyRoundTrip recovers the signing key from SDMF and MDMF
// shares (MDMF from its prefix alone) and refuses a wrong writekey.
func TestPrivateKeyRoundTrip(t *testing.T) {
	writekey, _, _ := keysOf(key(t))
	for _, v := range []Version{SDMF, MDMF} {
		e, err := Encode(key(t), []byte("key"), Params{Version: v, K: 2, N: 3, Seqnum: 1})
		if err != nil {
			t.Fatal(err)
		}
		data := e.Shares[1]
		if v == MDMF {
			n, _ := PrefixNeeded(data)
			data = data[:n]
		}
		priv, err := RecoverPrivateKey(writekey, data)
		if err != nil {
			t.Fatal(err)
		}
		if !priv.Equal(key(t)) || !bytes.Equal(rsakey.PrivateDER(priv), rsakey.PrivateDER(key(t))) {
			t.Fatalf("%v: recovered a different key", v)
		}
		wrong := hashes.SSKReadkey(writekey)
		if _, err := RecoverPrivateKey(wrong, data); err == nil {
			t.Fatalf("%v: wrong writekey accepted", v)
		}
	}
}

// TestLayoutMatchesTahoe encodes with the parameters of the grid's files
// and compares every region size (but the key-dependent ones) and the
// MDMF share data offset with what Tahoe 1.20 wrote.
func TestLayoutMatchesTahoe(t *testing.T) {
	for _, c := range []struct {
		si string
		v  Version
	}{{"dqrkoatek6jcaq4mqnlomig4wq", SDMF}, {"hdodmqggaiqtbivm2sbmfo7hna", SDMF},
		{"kv6sea4n2wbyw7fv6ze6rddfwm", MDMF}, {"grbb2jtevrxzai2gyo2ppiotfu", MDMF}} {
		tahoe, err := ParseHeader(gridShares(t, c.si)[0])
		if err != nil {
			t.Fatal(err)
		}
		e, err := Encode(key(t), make([]byte, tahoe.DataLength), Params{Version: c.v, K: tahoe.K, N: tahoe.N})
		if err != nil {
			t.Fatal(err)
		}
		ours, tl := &e.Header.Layout, &tahoe.Layout
		if ours.ShareHashChain.Len() != tl.ShareHashChain.Len() || ours.BlockHashTree.Len() != tl.BlockHashTree.Len() ||
			ours.ShareData.Len() != tl.ShareData.Len() || e.Header.SegmentSize != tahoe.SegmentSize ||
			ours.Signature.Len() != tl.Signature.Len() || ours.VerificationKey.Len() != tl.VerificationKey.Len() {
			t.Errorf("%v layout %+v, Tahoe's %+v", c.v, *ours, *tl)
		}
		if c.v == MDMF && (ours.ShareData.Start != tl.ShareData.Start || ours.EncPrivkey.Start != tl.EncPrivkey.Start) {
			t.Errorf("MDMF share data at %d, Tahoe's at %d", ours.ShareData.Start, tl.ShareData.Start)
		}
	}
}

// TestEncodeRejects checks parameter validation.
func TestEncodeRejects(t *testing.T) {
	for _, p := range []Params{{Version: MDMF, K: 0, N: 1}, {Version: SDMF, K: 3, N: 2},
		{Version: MDMF, K: 1, N: 256}, {Version: 2, K: 1, N: 1}} {
		if _, err := Encode(key(t), []byte("x"), p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

// TestSegmentTo decodes every segment into a reused, dirty buffer from
// the primary blocks (decrypted straight into it) and from a set with a
// secondary block (erasure-decoded), and checks both against Segment.
func TestSegmentTo(t *testing.T) {
	_, readkey, fp := keysOf(key(t))
	for _, v := range []Version{SDMF, MDMF} {
		plain := make([]byte, 3*roundUp(DefaultSegmentSize, 3)+7)
		for i := range plain {
			plain[i] = byte(i*31 + i>>9)
		}
		e, err := Encode(key(t), plain, Params{Version: v, K: 3, N: 5, Seqnum: 1})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := NewDecoder(&e.Header, readkey)
		if err != nil {
			t.Fatal(err)
		}
		buf := bytes.Repeat([]byte{0xaa}, int(e.Header.SegmentSize)+5)
		for _, nums := range [][]int{{0, 1, 2}, {4, 1, 2}} {
			var got []byte
			for seg := range e.Header.NumSegments() {
				blocks := map[int][]byte{}
				var salt []byte
				for _, n := range nums {
					s, err := ParseShare(n, e.Shares[n], fp)
					if err != nil {
						t.Fatal(err)
					}
					if salt, blocks[n], err = s.Block(seg); err != nil {
						t.Fatal(err)
					}
				}
				want, err := dec.Segment(seg, salt, blocks)
				if err != nil {
					t.Fatal(err)
				}
				pt, err := dec.SegmentTo(buf, seg, salt, blocks)
				if err != nil || !bytes.Equal(pt, want) || &pt[0] != &buf[0] {
					t.Fatalf("%v shares %v segment %d: SegmentTo differs from Segment (%v)", v, nums, seg, err)
				}
				if rest := buf[len(pt):]; !bytes.Equal(rest, bytes.Repeat([]byte{0xaa}, len(rest))) {
					t.Fatalf("%v shares %v segment %d: SegmentTo wrote past the segment", v, nums, seg)
				}
				if _, err := dec.SegmentTo(buf[:len(pt)-1], seg, salt, blocks); errkind.KindOf(err) != errkind.Usage {
					t.Fatalf("%v: SegmentTo into a short buffer: %v", v, err)
				}
				got = append(got, pt...)
				copy(buf, bytes.Repeat([]byte{0xaa}, len(buf)))
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("%v shares %v: plaintext differs", v, nums)
			}
		}
		if _, err := dec.SegmentTo(make([]byte, 10), 0, make([]byte, SaltLen), map[int][]byte{}); err == nil {
			t.Fatalf("%v: SegmentTo accepted too few blocks", v)
		}
	}
}
