package cap

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// TestVectorsRoundTrip parses every cap Tahoe produced and prints it back.
func TestVectorsRoundTrip(t *testing.T) {
	for i, v := range testutil.CapVectors(t) {
		c, err := Parse(v.Expected)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got := c.String(); got != v.Expected {
			t.Fatalf("case %d: printed %s, want %s", i, got, v.Expected)
		}
		checkVectorFields(t, i, v, c)
	}
}

// checkVectorFields checks the parsed cap agrees with the case's params.
func checkVectorFields(t *testing.T, i int, v testutil.CapVector, c Cap) {
	t.Helper()
	switch v.Format.Kind {
	case "chk":
		k, ok := c.(*CHK)
		if !ok || k.K != v.Zfec.Required || k.N != v.Zfec.Total || k.Size != uint64(v.Sample.Length) {
			t.Errorf("case %d: %#v does not match k=%d N=%d size=%d", i, c, v.Zfec.Required, v.Zfec.Total, v.Sample.Length)
		}
	case "ssk":
		want := map[string]Kind{"sdmf": KindSSK, "mdmf": KindMDMF}[v.SSKFormat()]
		if c.Kind() != want {
			t.Errorf("case %d: kind %v, want %v", i, c.Kind(), want)
		}
	default:
		t.Errorf("case %d: unknown format kind %q", i, v.Format.Kind)
	}
}

// TestNewMutableMatchesVectors derives every SSK write cap from its RSA
// key: this pins the PKCS#8 and SPKI DER forms and the hash tags.
func TestNewMutableMatchesVectors(t *testing.T) {
	n := 0
	for i, v := range testutil.CapVectors(t) {
		if v.Format.Kind != "ssk" {
			continue
		}
		priv, err := rsakey.ParsePEM(v.KeyPEM())
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		format := map[string]Format{"sdmf": SDMF, "mdmf": MDMF}[v.SSKFormat()]
		if got := NewMutable(format, false, priv).String(); got != v.Expected {
			t.Fatalf("case %d: NewMutable gives %s, want %s", i, got, v.Expected)
		}
		n++
	}
	if n != 240 {
		t.Errorf("checked %d SSK cases, want 240", n)
	}
}

// TestGridDerivations derives each real object's read cap, verify cap and
// storage index from its strongest cap and compares with what Tahoe said.
func TestGridDerivations(t *testing.T) {
	for _, o := range testutil.GridObjects(t) {
		t.Run(o.Name, func(t *testing.T) {
			c := mustParse(t, o.Cap)
			checkRoundTrip(t, o.Cap, c)
			if got := c.ReadOnly().String(); got != o.Readcap {
				t.Errorf("ReadOnly = %s, want %s", got, o.Readcap)
			}
			checkVerifier(t, c, o.Verifycap)
			checkVerifier(t, mustParse(t, o.Readcap), o.Verifycap)
			if o.Verifycap != "" {
				checkVerifier(t, mustParse(t, o.Verifycap), o.Verifycap)
			}
			if got := FormatSI(c.StorageIndex()); got != o.StorageIndex {
				t.Errorf("storage index %s, want %s", got, o.StorageIndex)
			}
			checkGridFlags(t, o, c)
			for name, ch := range o.Children {
				checkChild(t, name, ch.Kind, deref(ch.ROURI), deref(ch.RWURI))
			}
		})
	}
}

func checkVerifier(t *testing.T, c Cap, want string) {
	t.Helper()
	v := c.Verifier()
	if want == "" {
		if v != nil {
			t.Errorf("%v: Verifier = %v, want none", c.Kind(), v)
		}
		return
	}
	if v == nil || v.String() != want {
		t.Errorf("%v: Verifier = %v, want %s", c.Kind(), v, want)
		return
	}
	if !bytes.Equal(v.StorageIndex(), c.StorageIndex()) || !v.IsReadOnly() || v.IsDir() != c.IsDir() {
		t.Errorf("%v: verifier %v disagrees on storage index or flags", c.Kind(), v.Kind())
	}
}

func checkGridFlags(t *testing.T, o testutil.GridObject, c Cap) {
	t.Helper()
	if c.IsMutable() != o.Mutable && o.Kind == "filenode" {
		t.Errorf("IsMutable = %v, want %v", c.IsMutable(), o.Mutable)
	}
	if c.IsDir() != (o.Kind == "dirnode") {
		t.Errorf("IsDir = %v for a %s", c.IsDir(), o.Kind)
	}
	if c.IsReadOnly() == c.IsMutable() {
		t.Errorf("IsReadOnly = %v for the strongest cap of a %s object", c.IsReadOnly(), o.Format)
	}
	if l, ok := c.(*LIT); ok && uint64(len(l.Data)) != o.Size {
		t.Errorf("LIT holds %d bytes, want %d", len(l.Data), o.Size)
	}
	if k, ok := c.(*CHK); ok && k.Size != o.Size {
		t.Errorf("CHK size %d, want %d", k.Size, o.Size)
	}
}

// checkChild checks a directory entry's caps parse, print back and agree.
func checkChild(t *testing.T, name, kind, ro, rw string) {
	t.Helper()
	r := mustParse(t, ro)
	checkRoundTrip(t, ro, r)
	if r.IsDir() != (kind == "dirnode") || !r.IsReadOnly() {
		t.Errorf("child %q: %v has wrong flags for a %s", name, r.Kind(), kind)
	}
	if rw == "" {
		return
	}
	w := mustParse(t, rw)
	checkRoundTrip(t, rw, w)
	if got := w.ReadOnly().String(); got != ro {
		t.Errorf("child %q: ReadOnly of rw_uri = %s, want ro_uri %s", name, got, ro)
	}
}

// TestOldSDMFCap checks the write cap of the file written by an old Tahoe.
func TestOldSDMFCap(t *testing.T) {
	var doc struct {
		Cap    string            `json:"cap"`
		Shares map[string]string `json:"shares_base64"`
	}
	if err := json.Unmarshal(testutil.ReadTestdata(t, "sdmf-old-shares.json"), &doc); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, doc.Cap)
	checkRoundTrip(t, doc.Cap, c)
	m, ok := c.(*Mutable)
	if !ok || m.FileFormat != SDMF || m.Access != Write || m.Dir {
		t.Fatalf("parsed %#v", c)
	}
	// The re-derived write cap from the same keys must be the same cap.
	if got := NewMutableFromKeys(SDMF, false, m.Writekey, m.Fingerprint); got.String() != doc.Cap ||
		!bytes.Equal(got.SI, m.SI) {
		t.Errorf("NewMutableFromKeys = %s", got)
	}
	checkFingerprintInShare(t, m, doc.Shares["0"])
}

// checkFingerprintInShare hashes the verification key stored in a real
// SDMF share and compares it with the cap's fingerprint. The share sits
// after the 100-byte container header and four 92-byte lease slots; its
// key runs from the end of the 107-byte SDMF header to the signature,
// whose offset is the big-endian uint32 at byte 75 of the share.
func checkFingerprintInShare(t *testing.T, m *Mutable, b64 string) {
	t.Helper()
	file, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	share := file[100+4*92:]
	end := binary.BigEndian.Uint32(share[75:])
	if got := hashes.SSKPubkeyFingerprint(share[107:end]); !bytes.Equal(got, m.Fingerprint) {
		t.Errorf("fingerprint of the share's key is %x, cap has %x", got, m.Fingerprint)
	}
}

// deref reads a cap Tahoe may have listed as null as "".
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func mustParse(t *testing.T, s string) Cap {
	t.Helper()
	c, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func checkRoundTrip(t *testing.T, s string, c Cap) {
	t.Helper()
	if got := c.String(); got != s {
		t.Errorf("printed %s, want %s", got, s)
	}
}
