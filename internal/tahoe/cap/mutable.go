package cap

import (
	"crypto/rsa"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
)

// Sizes of the fields of caps.
const (
	KeyLen         = hashes.KeyLen // writekey, readkey, CHK key
	SILen          = 16            // storage index
	FingerprintLen = 32            // hash of a mutable file's public key
	UEBHashLen     = 32            // hash of a CHK URI extension block
)

// Mutable is a cap to a mutable slot: an SDMF or MDMF file, or a directory
// stored in one. Which keys are set depends on Access: a write cap has all
// of Writekey, Readkey, SI and Fingerprint; a read cap has Readkey, SI and
// Fingerprint; a verify cap only SI and Fingerprint.
type Mutable struct {
	FileFormat  Format
	Dir         bool   // a directory (URI:DIR2...) rather than a file
	Access      Access // Write, Read or Verify
	Writekey    []byte // 16 bytes, write caps only
	Readkey     []byte // 16 bytes, write and read caps
	SI          []byte // 16-byte storage index
	Fingerprint []byte // 32-byte hash of the DER public key
}

// NewMutable returns the write cap of a new mutable file or directory
// signed by priv, derived the way Tahoe-LAFS derives it: the writekey
// hashes the PKCS#8 DER private key and the fingerprint the DER
// SubjectPublicKeyInfo.
func NewMutable(format Format, dir bool, priv *rsa.PrivateKey) *Mutable {
	return NewMutableFromKeys(format, dir,
		hashes.SSKWritekey(rsakey.PrivateDER(priv)),
		hashes.SSKPubkeyFingerprint(rsakey.PublicDER(&priv.PublicKey)))
}

// NewMutableFromKeys returns the write cap with the given writekey and
// fingerprint, deriving the readkey and storage index.
func NewMutableFromKeys(format Format, dir bool, writekey, fingerprint []byte) *Mutable {
	readkey := hashes.SSKReadkey(writekey)
	return &Mutable{
		FileFormat:  format,
		Dir:         dir,
		Access:      Write,
		Writekey:    writekey,
		Readkey:     readkey,
		SI:          hashes.SSKStorageIndex(readkey),
		Fingerprint: fingerprint,
	}
}

// parseMutable parses "<key or SI>:<fingerprint>" (and, for MDMF, any
// ":extension" Tahoe 1.9+ ignores).
func parseMutable(kind Kind, rest string) (Cap, error) {
	info := kinds[kind]
	fields := strings.SplitN(rest, ":", 3)
	if len(fields) < 2 {
		return nil, usage("%s: too few fields (1, want 2)", kind)
	}
	if len(fields) == 3 && info.format == SDMF {
		return nil, usage("%s: too many fields (want 2: %s and fingerprint)", kind, firstFieldName(info.access))
	}
	first, err := decodeField(kind, firstFieldName(info.access), fields[0], KeyLen)
	if err != nil {
		return nil, err
	}
	fp, err := decodeField(kind, "fingerprint", fields[1], FingerprintLen)
	if err != nil {
		return nil, err
	}
	return newMutableFromField(info, first, fp), nil
}

// firstFieldName names the first field of a mutable cap of access a.
func firstFieldName(a Access) string {
	switch a {
	case Write:
		return "writekey"
	case Read:
		return "readkey"
	}
	return "storage index"
}

// newMutableFromField builds a Mutable from its first field, deriving the
// fields below it.
func newMutableFromField(info kindInfo, first, fp []byte) *Mutable {
	switch info.access {
	case Write:
		return NewMutableFromKeys(info.format, info.dir, first, fp)
	case Read:
		return &Mutable{FileFormat: info.format, Dir: info.dir, Access: Read,
			Readkey: first, SI: hashes.SSKStorageIndex(first), Fingerprint: fp}
	}
	return &Mutable{FileFormat: info.format, Dir: info.dir, Access: Verify, SI: first, Fingerprint: fp}
}

// Kind returns the cap's kind, or KindInvalid if its fields are not those
// of any kind.
func (m *Mutable) Kind() Kind { return findKind(classMutable, m.FileFormat, m.Dir, m.Access) }

// String returns the canonical cap text ("" if Kind is KindInvalid).
func (m *Mutable) String() string {
	k := m.Kind()
	if k == KindInvalid {
		return ""
	}
	var first []byte
	switch m.Access {
	case Write:
		first = m.Writekey
	case Read:
		first = m.Readkey
	default:
		first = m.SI
	}
	return k.String() + ":" + base32.Encode(first) + ":" + base32.Encode(m.Fingerprint)
}

// IsMutable is true: a Mutable names a mutable slot.
func (m *Mutable) IsMutable() bool { return true }

// IsDir reports whether m names a directory.
func (m *Mutable) IsDir() bool { return m.Dir }

// IsReadOnly reports whether m is a read or verify cap.
func (m *Mutable) IsReadOnly() bool { return m.Access != Write }

// ReadOnly returns the read cap for a write cap, otherwise m itself.
func (m *Mutable) ReadOnly() Cap {
	if m.Access != Write {
		return m
	}
	r := *m
	r.Access = Read
	r.Writekey = nil
	return &r
}

// Verifier returns the verify cap of the same slot.
func (m *Mutable) Verifier() Cap {
	if m.Access == Verify {
		return m
	}
	return &Mutable{FileFormat: m.FileFormat, Dir: m.Dir, Access: Verify, SI: m.SI, Fingerprint: m.Fingerprint}
}

// StorageIndex returns the slot's 16-byte storage index.
func (m *Mutable) StorageIndex() []byte { return m.SI }
