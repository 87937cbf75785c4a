package cap

// Kind names a cap's textual form: one Kind per "URI:<name>:" prefix that
// Tahoe-LAFS 1.20 writes.
type Kind int

// The kinds of cap. The zero Kind is invalid.
const (
	KindInvalid          Kind = iota
	KindSSK                   // URI:SSK: SDMF mutable file, write
	KindSSKRO                 // URI:SSK-RO: SDMF mutable file, read
	KindSSKVerifier           // URI:SSK-Verifier: SDMF mutable file, verify
	KindMDMF                  // URI:MDMF: MDMF mutable file, write
	KindMDMFRO                // URI:MDMF-RO: MDMF mutable file, read
	KindMDMFVerifier          // URI:MDMF-Verifier: MDMF mutable file, verify
	KindDir2                  // URI:DIR2: SDMF directory, write
	KindDir2RO                // URI:DIR2-RO: SDMF directory, read
	KindDir2Verifier          // URI:DIR2-Verifier: SDMF directory, verify
	KindDir2MDMF              // URI:DIR2-MDMF: MDMF directory, write
	KindDir2MDMFRO            // URI:DIR2-MDMF-RO: MDMF directory, read
	KindDir2MDMFVerifier      // URI:DIR2-MDMF-Verifier: MDMF directory, verify
	KindCHK                   // URI:CHK: immutable file, read
	KindCHKVerifier           // URI:CHK-Verifier: immutable file, verify
	KindLIT                   // URI:LIT: literal (inline) file
	KindDir2CHK               // URI:DIR2-CHK: immutable directory, read
	KindDir2CHKVerifier       // URI:DIR2-CHK-Verifier: immutable directory, verify
	KindDir2LIT               // URI:DIR2-LIT: literal (inline) immutable directory
	numKinds
)

// Format is the encoding of a mutable file's shares.
type Format int

// Mutable file formats.
const (
	SDMF Format = iota + 1 // small distributed mutable file: one segment
	MDMF                   // medium distributed mutable file: many segments
)

// String returns "SDMF" or "MDMF".
func (f Format) String() string {
	switch f {
	case SDMF:
		return "SDMF"
	case MDMF:
		return "MDMF"
	}
	return "Format(invalid)"
}

// Access is the authority a cap grants.
type Access int

// Levels of authority, strongest first.
const (
	Write  Access = iota + 1 // read and modify (mutable write caps only)
	Read                     // read the plaintext
	Verify                   // check and repair shares, no plaintext
)

// String returns "write", "read" or "verify".
func (a Access) String() string {
	switch a {
	case Write:
		return "write"
	case Read:
		return "read"
	case Verify:
		return "verify"
	}
	return "Access(invalid)"
}

// class says which Go type carries a kind.
type class int

const (
	classMutable class = iota + 1
	classCHK
	classLIT
)

// kindInfo describes one kind: its prefix and what its cap grants.
type kindInfo struct {
	name   string // "URI:SSK", without the trailing colon
	class  class
	format Format // mutable kinds only
	dir    bool
	access Access
}

var kinds = [numKinds]kindInfo{
	KindSSK:              {"URI:SSK", classMutable, SDMF, false, Write},
	KindSSKRO:            {"URI:SSK-RO", classMutable, SDMF, false, Read},
	KindSSKVerifier:      {"URI:SSK-Verifier", classMutable, SDMF, false, Verify},
	KindMDMF:             {"URI:MDMF", classMutable, MDMF, false, Write},
	KindMDMFRO:           {"URI:MDMF-RO", classMutable, MDMF, false, Read},
	KindMDMFVerifier:     {"URI:MDMF-Verifier", classMutable, MDMF, false, Verify},
	KindDir2:             {"URI:DIR2", classMutable, SDMF, true, Write},
	KindDir2RO:           {"URI:DIR2-RO", classMutable, SDMF, true, Read},
	KindDir2Verifier:     {"URI:DIR2-Verifier", classMutable, SDMF, true, Verify},
	KindDir2MDMF:         {"URI:DIR2-MDMF", classMutable, MDMF, true, Write},
	KindDir2MDMFRO:       {"URI:DIR2-MDMF-RO", classMutable, MDMF, true, Read},
	KindDir2MDMFVerifier: {"URI:DIR2-MDMF-Verifier", classMutable, MDMF, true, Verify},
	KindCHK:              {"URI:CHK", classCHK, 0, false, Read},
	KindCHKVerifier:      {"URI:CHK-Verifier", classCHK, 0, false, Verify},
	KindLIT:              {"URI:LIT", classLIT, 0, false, Read},
	KindDir2CHK:          {"URI:DIR2-CHK", classCHK, 0, true, Read},
	KindDir2CHKVerifier:  {"URI:DIR2-CHK-Verifier", classCHK, 0, true, Verify},
	KindDir2LIT:          {"URI:DIR2-LIT", classLIT, 0, true, Read},
}

// kindByName maps "URI:SSK" and so on to their Kind.
var kindByName = func() map[string]Kind {
	m := make(map[string]Kind, numKinds)
	for k := KindInvalid + 1; k < numKinds; k++ {
		m[kinds[k].name] = k
	}
	return m
}()

// String returns the kind's prefix without its trailing colon, as
// "URI:SSK-RO".
func (k Kind) String() string {
	if !k.valid() {
		return "URI:?"
	}
	return kinds[k].name
}

// IsDir reports whether caps of this kind name directories.
func (k Kind) IsDir() bool { return k.valid() && kinds[k].dir }

// Access returns the authority caps of this kind grant.
func (k Kind) Access() Access {
	if !k.valid() {
		return 0
	}
	return kinds[k].access
}

func (k Kind) valid() bool { return k > KindInvalid && k < numKinds }

// findKind returns the Kind with the given properties, or KindInvalid.
func findKind(c class, f Format, dir bool, a Access) Kind {
	for k := KindInvalid + 1; k < numKinds; k++ {
		i := kinds[k]
		if i.class == c && i.format == f && i.dir == dir && i.access == a {
			return k
		}
	}
	return KindInvalid
}
