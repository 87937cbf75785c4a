package rsakey

import (
	"bytes"
	"testing"
)

func TestSignVerifyAndDERRoundTrip(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(k, []byte("prefix"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicDER(PublicDER(&k.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(pub, []byte("prefix"), sig); err != nil {
		t.Fatal(err)
	}
	if err := Verify(pub, []byte("prefiy"), sig); err == nil {
		t.Fatal("signature over other data verified")
	}
	k2, err := ParsePEM(EncodePEM(k))
	if err != nil || !bytes.Equal(PrivateDER(k2), PrivateDER(k)) {
		t.Fatalf("PEM round trip: %v", err)
	}
	if _, err := ParsePEM([]byte("junk")); err == nil {
		t.Fatal("junk PEM accepted")
	}
}
