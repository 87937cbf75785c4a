// Package base32 implements the unpadded, lower-case RFC 3548 base32 that
// Tahoe-LAFS uses in capabilities, storage indexes and node ids.
package base32

import (
	"encoding/base32"
	"fmt"
	"strings"
)

var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Encode returns the lower-case, unpadded base32 form of b.
func Encode(b []byte) string { return enc.EncodeToString(b) }

// Decode parses Tahoe base32. It rejects upper case, padding, and strings
// whose unused trailing bits are not zero, so that every value has exactly
// one textual form (as Tahoe's could_be_base32_encoded requires).
func Decode(s string) ([]byte, error) {
	if strings.ContainsAny(s, "=") {
		return nil, fmt.Errorf("base32: padding is not allowed")
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("base32: %q is not valid base32: %w", s, err)
	}
	if enc.EncodeToString(b) != s {
		return nil, fmt.Errorf("base32: %q is not canonical (non-zero trailing bits)", s)
	}
	return b, nil
}

// DecodeLen is Decode that also requires the decoded value to be n bytes.
func DecodeLen(s string, n int) ([]byte, error) {
	b, err := Decode(s)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, fmt.Errorf("base32: %q decodes to %d bytes, want %d", s, len(b), n)
	}
	return b, nil
}

// EncodedLen is the number of characters Encode produces for n bytes.
func EncodedLen(n int) int { return enc.EncodedLen(n) }
