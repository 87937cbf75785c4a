package nurl

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

func TestParseRoundTripTahoeAnnouncements(t *testing.T) {
	var doc struct {
		Storage map[string]struct {
			Ann struct {
				FURL  string   `yaml:"anonymous-storage-FURL"`
				NURLs []string `yaml:"anonymous-storage-NURLs"`
			} `yaml:"ann"`
		} `yaml:"storage"`
	}
	if err := yaml.Unmarshal(testutil.ReadTestdata(t, "grid", "servers.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Storage) != 5 {
		t.Fatalf("servers.yaml has %d servers", len(doc.Storage))
	}
	for id, s := range doc.Storage {
		n, err := Parse(s.Ann.NURLs[0])
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if n.String() != s.Ann.NURLs[0] {
			t.Errorf("round trip: %q != %q", n, s.Ann.NURLs[0])
		}
		tub, err := FURLTubID(s.Ann.FURL)
		if err != nil || len(tub) != 20 {
			t.Errorf("%s: tub id %x, %v", id, tub, err)
		}
		if sw, _ := FURLSwissnum(s.Ann.FURL); sw != n.Swissnum {
			t.Errorf("%s: fURL and NURL swissnums differ", id)
		}
	}
}

func TestParseErrors(t *testing.T) {
	good := "pb://cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg@127.0.0.1:20101/ybfivklbe4gewouzxckbuc6fhlwwf777#v=1"
	if _, err := Parse(good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"http://x", "pb://"},
		{"pb://abc", "'@'"},
		{strings.Replace(good, "cp1v0", "cp1v", 1), "SPKI hash"},
		{strings.Replace(good, ":20101", "", 1), "host:port"},
		{strings.Replace(good, ":20101", ":99999", 1), "bad port"},
		{strings.TrimSuffix(good, "#v=1"), "#v=1"},
		{strings.Replace(good, "/ybf", "/a/ybf", 1), "one path component"},
	} {
		_, err := Parse(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "ybfivklbe4gewouzxckbuc6fhlwwf777") {
			t.Errorf("error leaks the swissnum: %v", err)
		}
	}
	n, err := Parse("pb://cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg@tcp:10.0.0.1:1,[::1]:2/s#v=1")
	if err != nil || len(n.Hints) != 2 || n.Hints[1] != "[::1]:2" {
		t.Fatalf("multi-hint: %+v, %v", n, err)
	}
}

func TestSPKIHashVectors(t *testing.T) {
	var doc struct {
		Vector []struct {
			Hash string `yaml:"expected-hash"`
			Cert string `yaml:"certificate"`
		} `yaml:"vector"`
	}
	if err := yaml.Unmarshal(testutil.ReadTestdata(t, "spki-hash-vectors.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vector) == 0 {
		t.Fatal("no vectors")
	}
	for i, v := range doc.Vector {
		block, _ := pem.Decode([]byte(v.Cert))
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		if got := SPKIHash(cert); got != v.Hash {
			t.Errorf("vector %d: SPKI hash %s, want %s", i, got, v.Hash)
		}
	}
}

func TestStorage1NodePEMMatchesItsNURL(t *testing.T) {
	pemBytes := testutil.ReadTestdata(t, "grid", "nodes", "storage1", "private", "node.pem")
	var cert *x509.Certificate
	for rest := pemBytes; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			cert = c
		}
	}
	if cert == nil {
		t.Fatal("no certificate in node.pem")
	}
	if got := SPKIHash(cert); got != "cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg" {
		t.Fatalf("storage1 SPKI hash %s", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("pb://cp1v0iUlAGcsow6stD8HtKtZhvFn2ET041v7_5Ow2dg@127.0.0.1:20101/ybfivklbe4gewouzxckbuc6fhlwwf777#v=1")
	f.Add("pb://x@a:1,b:2/s#v=1")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(n.String())
		if err != nil || again.String() != n.String() {
			t.Fatalf("reparse of %q: %v", n, err)
		}
	})
}
