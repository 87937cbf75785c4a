package cap

import "github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"

// LIT is a literal cap, URI:LIT or URI:DIR2-LIT: the (small) file or
// directory contents are in the cap itself, unencrypted, and nothing is
// stored on servers.
type LIT struct {
	Dir  bool   // an immutable directory (URI:DIR2-LIT)
	Data []byte // the whole contents; may be empty
}

// parseLIT parses the base32 data of a literal cap.
func parseLIT(kind Kind, rest string) (Cap, error) {
	data, err := decodeAny(kind, "data", rest)
	if err != nil {
		return nil, err
	}
	return &LIT{Dir: kinds[kind].dir, Data: data}, nil
}

// Kind returns KindLIT or KindDir2LIT.
func (l *LIT) Kind() Kind {
	if l.Dir {
		return KindDir2LIT
	}
	return KindLIT
}

// String returns the canonical cap text.
func (l *LIT) String() string { return l.Kind().String() + ":" + base32.Encode(l.Data) }

// IsMutable is false.
func (l *LIT) IsMutable() bool { return false }

// IsDir reports whether l is a literal directory.
func (l *LIT) IsDir() bool { return l.Dir }

// IsReadOnly is true.
func (l *LIT) IsReadOnly() bool { return true }

// ReadOnly returns l itself.
func (l *LIT) ReadOnly() Cap { return l }

// Verifier returns nil: there is nothing on servers to verify.
func (l *LIT) Verifier() Cap { return nil }

// StorageIndex returns nil: literal caps have no storage index.
func (l *LIT) StorageIndex() []byte { return nil }
