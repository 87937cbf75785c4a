package hashes

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestNetstring(t *testing.T) {
	if got := string(Netstring([]byte("abc"))); got != "3:abc," {
		t.Fatalf("Netstring = %q", got)
	}
	if got := string(Netstring(nil)); got != "0:," {
		t.Fatalf("Netstring(nil) = %q", got)
	}
}

// TestTaggedIsSHA256d pins the construction independently of the helpers.
func TestTaggedIsSHA256d(t *testing.T) {
	inner := sha256.Sum256([]byte("3:tag,value"))
	want := sha256.Sum256(inner[:])
	if got := Tagged("tag", []byte("value"), 0); hex.EncodeToString(got) != hex.EncodeToString(want[:]) {
		t.Fatalf("Tagged = %x, want %x", got, want)
	}
	if got := Tagged("tag", []byte("value"), 16); len(got) != 16 {
		t.Fatalf("truncation gave %d bytes", len(got))
	}
	pinner := sha256.Sum256([]byte("3:tag,1:a,1:b,"))
	pwant := sha256.Sum256(pinner[:])
	if got := TaggedPair("tag", []byte("a"), []byte("b"), 0); string(got) != string(pwant[:]) {
		t.Fatalf("TaggedPair = %x, want %x", got, pwant)
	}
}

func TestConvergenceTagRejectsBadEncoding(t *testing.T) {
	for _, kn := range [][2]int{{0, 1}, {2, 1}, {1, 257}} {
		if _, err := ConvergenceTag(kn[0], kn[1], 131072, nil); err == nil {
			t.Errorf("%v accepted", kn)
		}
	}
	tag, err := ConvergenceTag(3, 10, 131072, []byte("s"))
	if err != nil || tag != TagConvergentKey+"1:s,"+"11:3,10,131072," {
		t.Fatalf("tag %q, %v", tag, err)
	}
}

func TestHMACIsUnpaddedConstruction(t *testing.T) {
	key := []byte{0x00, 0xff}
	inner := sha256.Sum256([]byte{0x36, 0xc9, 'd'})
	outer := sha256.Sum256(append([]byte{0x5c, 0xa3}, inner[:]...))
	if got := HMAC(key, []byte("d")); string(got) != string(outer[:]) {
		t.Fatalf("HMAC = %x, want %x", got, outer)
	}
}
