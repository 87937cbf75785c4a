package rsakey

import (
	"encoding/pem"
	"regexp"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// goIdent matches what a user must never read in an error: Go
// identifiers of crypto/x509 and encoding/asn1 and their struct dumps.
var goIdent = regexp.MustCompile(`Parse[A-Z]\w*|asn1|x509|\{class:|optional:|@\d`)

// FuzzParsePEM feeds arbitrary bytes to what --private-key reads (a user
// file) and to the DER parsers of keys taken from shares (a peer's
// bytes): no panic; a parsed key serialises to DER that parses back to
// the same key; errors are plain words without Go identifiers.
func FuzzParsePEM(f *testing.F) {
	vs := testutil.CapVectors(f)
	for _, v := range vs {
		if v.Format.Kind == "ssk" {
			pemKey := v.KeyPEM()
			f.Add(pemKey)
			b, _ := pem.Decode(pemKey)
			f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b.Bytes[:len(b.Bytes)/2]}))
			break
		}
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("not a key"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkErr := func(err error) {
			if err != nil && goIdent.MatchString(err.Error()) {
				t.Fatalf("error shows Go identifiers: %v", err)
			}
		}
		k, err := ParsePEM(data)
		checkErr(err)
		if err == nil {
			again, err := ParsePrivateDER(PrivateDER(k))
			if err != nil || !again.Equal(k) {
				t.Fatalf("parsed key does not round-trip: %v", err)
			}
		}
		_, err = ParsePrivateDER(data)
		checkErr(err)
		_, err = ParsePublicDER(data)
		checkErr(err)
	})
}
