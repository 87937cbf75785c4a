package chk

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// UEB is a URI extension block: the parameters and root hashes of one CHK
// encoding, stored in every share and authenticated by the UEB hash in the
// cap. Its wire form is a sequence of "key:netstring(value)" fields sorted
// by key; integers are written in decimal.
type UEB struct {
	CodecName         string // "crs" (zfec's Reed-Solomon)
	CodecParams       string // "segsize-k-N"
	TailCodecParams   string // "padded tail size-k-N"
	Size              uint64 // plaintext (= ciphertext) length
	SegmentSize       uint64 // bytes per segment, a multiple of k
	NumSegments       uint64
	NeededShares      int // k (redundant: the cap's value is authoritative)
	TotalShares       int // N (redundant, as NeededShares)
	CrypttextHash     []byte
	CrypttextRootHash []byte
	ShareRootHash     []byte

	// Extra holds fields this package does not interpret, by key, so that
	// Marshal reproduces a parsed block exactly.
	Extra map[string][]byte
}

// UEB field names as Tahoe-LAFS 1.20 writes them.
const (
	fCodecName       = "codec_name"
	fCodecParams     = "codec_params"
	fTailCodecParams = "tail_codec_params"
	fSize            = "size"
	fSegmentSize     = "segment_size"
	fNumSegments     = "num_segments"
	fNeededShares    = "needed_shares"
	fTotalShares     = "total_shares"
	fCrypttextHash   = "crypttext_hash"
	fCrypttextRoot   = "crypttext_root_hash"
	fShareRoot       = "share_root_hash"
)

// ParseUEB parses a URI extension block. Unknown fields are kept in Extra;
// a malformed field, a duplicate key, a non-decimal number or a hash that
// is not 32 bytes is an error of kind Corrupt.
func ParseUEB(b []byte) (*UEB, error) {
	fields, err := splitUEB(b)
	if err != nil {
		return nil, err
	}
	u := &UEB{}
	for key, val := range fields {
		if err := u.set(key, val); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// splitUEB cuts b into its key:netstring fields.
func splitUEB(b []byte) (map[string][]byte, error) {
	const op = "chk.ParseUEB"
	fields := map[string][]byte{}
	for len(b) > 0 {
		colon := bytes.IndexByte(b, ':')
		if colon <= 0 {
			return nil, errkind.E(op, errkind.Corrupt, "field without a key")
		}
		key := string(b[:colon])
		val, rest, err := cutNetstring(b[colon+1:])
		if err != nil {
			return nil, errkind.E(op, errkind.Corrupt, "field %q: %v", key, err)
		}
		if _, dup := fields[key]; dup {
			return nil, errkind.E(op, errkind.Corrupt, "field %q appears twice", key)
		}
		fields[key] = val
		b = rest
	}
	return fields, nil
}

// cutNetstring reads "<len>:<bytes>," from the front of b.
func cutNetstring(b []byte) (val, rest []byte, err error) {
	colon := bytes.IndexByte(b, ':')
	if colon <= 0 || colon > 10 {
		return nil, nil, fmt.Errorf("bad netstring length")
	}
	n, err := parseDecimal(b[:colon])
	if err != nil {
		return nil, nil, fmt.Errorf("bad netstring length: %v", err)
	}
	b = b[colon+1:]
	if n >= uint64(len(b)) || b[n] != ',' {
		return nil, nil, fmt.Errorf("netstring of %d bytes is truncated or unterminated", n)
	}
	return b[:n], b[n+1:], nil
}

// parseDecimal accepts only ASCII digits (no sign, no spaces), at most 19.
func parseDecimal(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 19 {
		return 0, fmt.Errorf("number %q has a bad length", b)
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", b)
		}
	}
	return strconv.ParseUint(string(b), 10, 64)
}

// set stores one parsed field.
func (u *UEB) set(key string, val []byte) error {
	const op = "chk.ParseUEB"
	var err error
	switch key {
	case fCodecName:
		u.CodecName = string(val)
	case fCodecParams:
		u.CodecParams = string(val)
	case fTailCodecParams:
		u.TailCodecParams = string(val)
	case fSize:
		u.Size, err = parseDecimal(val)
	case fSegmentSize:
		u.SegmentSize, err = parseDecimal(val)
	case fNumSegments:
		u.NumSegments, err = parseDecimal(val)
	case fNeededShares:
		u.NeededShares, err = parseSmall(val)
	case fTotalShares:
		u.TotalShares, err = parseSmall(val)
	case fCrypttextHash:
		u.CrypttextHash, err = hash32(val)
	case fCrypttextRoot:
		u.CrypttextRootHash, err = hash32(val)
	case fShareRoot:
		u.ShareRootHash, err = hash32(val)
	default:
		if u.Extra == nil {
			u.Extra = map[string][]byte{}
		}
		u.Extra[key] = append([]byte(nil), val...)
	}
	if err != nil {
		return errkind.E(op, errkind.Corrupt, "field %q: %v", key, err)
	}
	return nil
}

func parseSmall(b []byte) (int, error) {
	v, err := parseDecimal(b)
	if err != nil {
		return 0, err
	}
	if v > 1<<20 {
		return 0, fmt.Errorf("%d is out of range", v)
	}
	return int(v), nil
}

func hash32(b []byte) ([]byte, error) {
	if len(b) != hashes.HashLen {
		return nil, fmt.Errorf("hash has %d bytes, want %d", len(b), hashes.HashLen)
	}
	return append([]byte(nil), b...), nil
}

// Marshal serialises the block as Tahoe-LAFS does: every set field (and
// every Extra field) sorted by key. Empty strings and nil hashes are
// omitted; integers are always written.
func (u *UEB) Marshal() []byte {
	fields := map[string][]byte{}
	for k, v := range u.Extra {
		fields[k] = v
	}
	str := func(k, v string) {
		if v != "" {
			fields[k] = []byte(v)
		}
	}
	byt := func(k string, v []byte) {
		if v != nil {
			fields[k] = v
		}
	}
	num := func(k string, v uint64) { fields[k] = strconv.AppendUint(nil, v, 10) }
	str(fCodecName, u.CodecName)
	str(fCodecParams, u.CodecParams)
	str(fTailCodecParams, u.TailCodecParams)
	num(fSize, u.Size)
	num(fSegmentSize, u.SegmentSize)
	num(fNumSegments, u.NumSegments)
	num(fNeededShares, uint64(u.NeededShares))
	num(fTotalShares, uint64(u.TotalShares))
	byt(fCrypttextHash, u.CrypttextHash)
	byt(fCrypttextRoot, u.CrypttextRootHash)
	byt(fShareRoot, u.ShareRootHash)
	return joinFields(fields)
}

func joinFields(fields map[string][]byte) []byte {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	for _, k := range keys {
		buf.WriteString(k)
		buf.WriteByte(':')
		buf.Write(hashes.Netstring(fields[k]))
	}
	return buf.Bytes()
}

// Hash is the UEB hash of the serialised block (what the cap carries).
func (u *UEB) Hash() []byte { return hashes.UEBHash(u.Marshal()) }
