package base32

import (
	"bytes"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for n := 0; n < 40; n++ {
		b := bytes.Repeat([]byte{byte(n * 7)}, n)
		s := Encode(b)
		got, err := Decode(s)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("n=%d: %q -> %x, %v", n, s, got, err)
		}
	}
}

func TestRejects(t *testing.T) {
	for _, s := range []string{"ABCD", "aa======", "ab", "a1", "ab!c"} {
		if _, err := Decode(s); err == nil {
			t.Errorf("Decode(%q) succeeded, want error", s)
		}
	}
	if _, err := DecodeLen(Encode(make([]byte, 16)), 32); err == nil {
		t.Error("DecodeLen accepted a wrong length")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("aaaa")
	f.Add("gmjgofw6gan57gwpsow6gtrz3e")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Decode(s)
		if err == nil && Encode(b) != s {
			t.Fatalf("accepted non-canonical %q", s)
		}
	})
}
