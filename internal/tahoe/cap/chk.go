package cap

import (
	"strconv"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// MaxShares is the largest number of shares (N) zfec supports.
const MaxShares = 256

// CHK is a cap to an immutable file or directory ("content hash key"):
// URI:CHK, URI:CHK-Verifier, URI:DIR2-CHK or URI:DIR2-CHK-Verifier.
type CHK struct {
	Dir     bool   // an immutable directory (URI:DIR2-CHK...)
	Access  Access // Read or Verify
	Key     []byte // 16-byte AES key, read caps only
	SI      []byte // 16-byte storage index (derived from Key in read caps)
	UEBHash []byte // 32-byte hash of the URI extension block
	K, N    int    // shares needed, shares total (1 <= K <= N <= 256)
	Size    uint64 // plaintext size in bytes
}

// NewCHK returns the read cap of an immutable file with the given AES key
// and encoding, deriving the storage index.
func NewCHK(dir bool, key, uebHash []byte, k, n int, size uint64) *CHK {
	return &CHK{Dir: dir, Access: Read, Key: key, SI: hashes.StorageIndexCHK(key),
		UEBHash: uebHash, K: k, N: n, Size: size}
}

// parseCHK parses "<key or SI>:<UEB hash>:<k>:<N>:<size>".
func parseCHK(kind Kind, rest string) (Cap, error) {
	info := kinds[kind]
	fields := strings.Split(rest, ":")
	if len(fields) != 5 {
		return nil, usage("%s: %d fields, want 5 (%s, UEB hash, k, N, size)", kind, len(fields), chkFirstField(info.access))
	}
	first, err := decodeField(kind, chkFirstField(info.access), fields[0], KeyLen)
	if err != nil {
		return nil, err
	}
	ueb, err := decodeField(kind, "UEB hash", fields[1], UEBHashLen)
	if err != nil {
		return nil, err
	}
	k, n, size, err := parseEncoding(kind, fields[2], fields[3], fields[4])
	if err != nil {
		return nil, err
	}
	if info.access == Read {
		return NewCHK(info.dir, first, ueb, k, n, size), nil
	}
	return &CHK{Dir: info.dir, Access: Verify, SI: first, UEBHash: ueb, K: k, N: n, Size: size}, nil
}

// chkFirstField names the first field of a CHK cap of access a.
func chkFirstField(a Access) string {
	if a == Read {
		return "key"
	}
	return "storage index"
}

// parseEncoding parses and checks the k, N and size fields.
func parseEncoding(kind Kind, ks, ns, sizes string) (k, n int, size uint64, err error) {
	kv, err := parseNumber(kind, "k", ks)
	if err != nil {
		return 0, 0, 0, err
	}
	nv, err := parseNumber(kind, "N", ns)
	if err != nil {
		return 0, 0, 0, err
	}
	size, err = parseNumber(kind, "size", sizes)
	if err != nil {
		return 0, 0, 0, err
	}
	switch {
	case kv < 1 || kv > MaxShares:
		return 0, 0, 0, usage("%s: k = %d, want 1..%d", kind, kv, MaxShares)
	case nv < 1 || nv > MaxShares:
		return 0, 0, 0, usage("%s: N = %d, want 1..%d", kind, nv, MaxShares)
	case kv > nv:
		return 0, 0, 0, usage("%s: k = %d is greater than N = %d", kind, kv, nv)
	}
	return int(kv), int(nv), size, nil
}

// parseNumber parses a decimal field: digits only (leading zeros allowed,
// as Tahoe allows them), at most 64 bits.
func parseNumber(kind Kind, field, s string) (uint64, error) {
	if s == "" {
		return 0, usage("%s %s: empty", kind, field)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, usage("%s %s: %q is not a decimal number", kind, field, clip(s, 24))
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, usage("%s %s: %q is out of range", kind, field, clip(s, 24))
	}
	return v, nil
}

// Kind returns the cap's kind, or KindInvalid if Access is not Read or
// Verify.
func (c *CHK) Kind() Kind { return findKind(classCHK, 0, c.Dir, c.Access) }

// String returns the canonical cap text ("" if Kind is KindInvalid).
func (c *CHK) String() string {
	k := c.Kind()
	if k == KindInvalid {
		return ""
	}
	first := c.Key
	if c.Access == Verify {
		first = c.SI
	}
	return k.String() + ":" + base32.Encode(first) + ":" + base32.Encode(c.UEBHash) + ":" +
		strconv.Itoa(c.K) + ":" + strconv.Itoa(c.N) + ":" + strconv.FormatUint(c.Size, 10)
}

// IsMutable is false: CHK objects never change.
func (c *CHK) IsMutable() bool { return false }

// IsDir reports whether c names an immutable directory.
func (c *CHK) IsDir() bool { return c.Dir }

// IsReadOnly is true: immutable caps cannot write.
func (c *CHK) IsReadOnly() bool { return true }

// ReadOnly returns c itself.
func (c *CHK) ReadOnly() Cap { return c }

// Verifier returns the verify cap of the same object.
func (c *CHK) Verifier() Cap {
	if c.Access == Verify {
		return c
	}
	v := *c
	v.Access = Verify
	v.Key = nil
	return &v
}

// StorageIndex returns the 16-byte storage index.
func (c *CHK) StorageIndex() []byte { return c.SI }
