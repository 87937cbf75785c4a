package mutable

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// TestOldSDMFSubsets decodes the old Tahoe SDMF file from every 3 of its
// 10 shares.
func TestOldSDMFSubsets(t *testing.T) {
	o := loadOldSDMF(t)
	writekey, readkey, fp := capKeys(t, o.Cap)
	if len(o.Shares) != 10 {
		t.Fatalf("have %d shares, want 10", len(o.Shares))
	}
	shares := map[int]*Share{}
	for n, data := range o.Shares {
		s, err := ParseShare(n, data, fp)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(); err != nil {
			t.Fatal(err)
		}
		if s.Prefix.Version != SDMF || s.Prefix.K != 3 || s.Prefix.N != 10 || s.Prefix.Seqnum != 1 {
			t.Fatalf("share %d: unexpected header %+v", n, s.Prefix.VersionID())
		}
		shares[n] = s
	}
	subsets := 0
	for a := 0; a < 10; a++ {
		for b := a + 1; b < 10; b++ {
			for c := b + 1; c < 10; c++ {
				f, err := NewFile(readkey, []*Share{shares[c], shares[a], shares[b]})
				if err != nil {
					t.Fatal(err)
				}
				got, err := f.Bytes()
				if err != nil || !bytes.Equal(got, o.Plaintext) {
					t.Fatalf("shares %d,%d,%d: got %q, %v", a, b, c, got, err)
				}
				subsets++
			}
		}
	}
	if subsets != 120 {
		t.Fatalf("tried %d subsets", subsets)
	}
	priv, err := RecoverPrivateKey(writekey, o.Shares[7])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hashes.SSKPubkeyFingerprint(rsakey.PublicDER(&priv.PublicKey)), fp) {
		t.Fatal("recovered key does not match the fingerprint")
	}
}

// TestOldSDMFFlippedBytes flips every byte of every share up to the
// encrypted private key (header, offsets, key, signature, hash chain,
// block hash tree, block) and expects verification to fail, naming the
// share. The one exception is the EOF offset: it only bounds the encrypted
// private key, which no hash covers (Tahoe checks that key against the
// writekey when it decrypts it), and a share may lie in a container
// longer than the share.
func TestOldSDMFFlippedBytes(t *testing.T) {
	o := loadOldSDMF(t)
	_, _, fp := capKeys(t, o.Cap)
	for n, data := range o.Shares {
		h, err := ParseHeader(data)
		if err != nil {
			t.Fatal(err)
		}
		for pos := 0; pos < int(h.Layout.EncPrivkey.Start); pos++ {
			if pos >= sdmfEOFOffset && pos < SDMFHeaderLen {
				continue
			}
			bad := bytes.Clone(data)
			bad[pos] ^= byte(1 << (pos % 8))
			err := verifyAll(n, bad, fp)
			if err == nil {
				t.Fatalf("share %d: flipping byte %d went unnoticed", n, pos)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("share %d: ", n)) {
				t.Fatalf("share %d byte %d: error does not name the share: %v", n, pos, err)
			}
			if k := errkind.KindOf(err); k != errkind.Corrupt && k != errkind.Invalid {
				t.Fatalf("share %d byte %d: kind %v: %v", n, pos, k, err)
			}
		}
	}
}

const sdmfEOFOffset = SDMFHeaderLen - 8

func verifyAll(n int, data, fp []byte) error {
	s, err := ParseShare(n, data, fp)
	if err != nil {
		return err
	}
	return s.Verify()
}

// TestOldSDMFErrors checks what the errors say for typical corruption.
func TestOldSDMFErrors(t *testing.T) {
	o := loadOldSDMF(t)
	_, _, fp := capKeys(t, o.Cap)
	data := o.Shares[4]
	h, _ := ParseHeader(data)
	l := h.Layout
	for _, c := range []struct {
		pos  int64
		want string
	}{
		{1, "share 4: signature does not verify"},
		{l.VerificationKey.Start + 40, "share 4: verification key does not match"},
		{l.Signature.Start + 3, "share 4: signature does not verify"},
		{l.ShareHashChain.Start + 5, "share 4: share hash chain does not lead to the root hash"},
		{l.BlockHashTree.Start, "share 4: share hash chain does not lead to the root hash"},
		{l.ShareData.Start, "share 4: block 0 fails the block hash tree"},
	} {
		bad := bytes.Clone(data)
		bad[c.pos] ^= 0x40
		if err := verifyAll(4, bad, fp); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("byte %d: got %v, want %q", c.pos, err, c.want)
		}
	}
	if _, err := ParseShare(4, data, make([]byte, 32)); err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Errorf("wrong fingerprint: %v", err)
	}
	if _, err := ParseShare(5, data, fp); err == nil {
		t.Error("share 4's data accepted as share 5")
	}
}

// TestGrid decodes every SDMF/MDMF file and directory a Tahoe-LAFS 1.20
// grid wrote, through its write cap and its read cap.
func TestGrid(t *testing.T) {
	tested := 0
	for _, o := range testutil.GridObjects(t) {
		if !isMutable(&o) {
			continue
		}
		t.Run(o.Name, func(t *testing.T) {
			shares := gridShares(t, o.StorageIndex)
			for _, c := range []string{o.Cap, o.Readcap} {
				plain := decodeGrid(t, c, o.StorageIndex, shares)
				if o.Kind == "dirnode" {
					for name := range o.Children {
						if !bytes.Contains(plain, []byte(name)) {
							t.Errorf("%s: directory lacks child %q", c, name)
						}
					}
					continue
				}
				sum := sha256.Sum256(plain)
				if hex.EncodeToString(sum[:]) != o.PlaintextSHA256 || uint64(len(plain)) != o.Size {
					t.Errorf("%s: plaintext of %d bytes has the wrong hash", c, len(plain))
				}
			}
			tested++
		})
	}
	if tested != 6 {
		t.Errorf("decoded %d mutable objects, want 6", tested)
	}
}

func isMutable(o *testutil.GridObject) bool {
	return o.Kind == "dirnode" || o.Format == "SDMF" || o.Format == "MDMF"
}

// decodeGrid checks the storage index, decodes, and for a write cap also
// recovers the private key.
func decodeGrid(t *testing.T, c, si string, shares map[int][]byte) []byte {
	writekey, readkey, fp := capKeys(t, c)
	if got := base32.Encode(hashes.SSKStorageIndex(readkey)); got != si {
		t.Fatalf("%s: storage index %s, want %s", c, got, si)
	}
	plain, err := Decode(readkey, fp, shares)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	if writekey != nil {
		for n, s := range shares {
			priv, err := RecoverPrivateKey(writekey, s)
			if err != nil {
				t.Fatalf("%s share %d: %v", c, n, err)
			}
			if !bytes.Equal(hashes.SSKWritekey(rsakey.PrivateDER(priv)), writekey) {
				t.Fatalf("%s share %d: recovered key re-serialises differently", c, n)
			}
		}
	}
	return plain
}

// TestMDMFFlippedBytes flips every byte of an MDMF share of three
// segments except those no hash or signature covers in Tahoe's format
// either (the encrypted private key, its offset, and the padding before
// the share data), and expects verification to fail, naming the share.
func TestMDMFFlippedBytes(t *testing.T) {
	plain := bytes.Repeat([]byte("0123456789"), 50)
	e, err := Encode(key(t), plain, Params{Version: MDMF, K: 3, N: 10, SegmentSize: 200, Seqnum: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, _, fp := keysOf(key(t))
	const shnum = 6
	data := e.Shares[shnum]
	l := e.Header.Layout
	unprotected := func(pos int64) bool {
		return (pos >= mdmfSignedLen && pos < mdmfSignedLen+8) ||
			(pos >= l.EncPrivkey.Start && pos < l.EncPrivkey.End) ||
			(pos >= l.VerificationKey.End && pos < l.ShareData.Start)
	}
	checked := 0
	for pos := int64(0); pos < l.EOF; pos++ {
		if unprotected(pos) {
			continue
		}
		bad := bytes.Clone(data)
		bad[pos] ^= byte(1 << (pos % 8))
		err := verifyAll(shnum, bad, fp)
		if err == nil || !strings.Contains(err.Error(), "share 6: ") {
			t.Fatalf("flipping byte %d: %v", pos, err)
		}
		checked++
	}
	if err := verifyAll(shnum, data, fp); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d byte positions checked", checked)
}

// TestDecodePicksNewest gives Decode shares of two versions and of another
// file, and expects the newest recoverable version.
func TestDecodePicksNewest(t *testing.T) {
	_, readkey, fp := keysOf(key(t))
	p := Params{Version: MDMF, K: 2, N: 4, Seqnum: 1}
	old, err := Encode(key(t), []byte("old"), p)
	if err != nil {
		t.Fatal(err)
	}
	p.Seqnum = 2
	cur, err := Encode(key(t), []byte("new"), p)
	if err != nil {
		t.Fatal(err)
	}
	o := loadOldSDMF(t)
	shares := map[int][]byte{0: old.Shares[0], 1: cur.Shares[1], 2: old.Shares[2], 3: cur.Shares[3]}
	if got, err := Decode(readkey, fp, shares); err != nil || string(got) != "new" {
		t.Fatalf("got %q, %v", got, err)
	}
	shares[3] = o.Shares[3] // another file's share: skipped, seqnum 2 no longer recoverable
	if got, err := Decode(readkey, fp, shares); err != nil || string(got) != "old" {
		t.Fatalf("got %q, %v", got, err)
	}
	shares[2] = o.Shares[2]
	if _, err := Decode(readkey, fp, shares); !errkind.Is(err, errkind.Unrecoverable) || !strings.Contains(err.Error(), "share 2: ") {
		t.Fatalf("got %v", err)
	}
}
