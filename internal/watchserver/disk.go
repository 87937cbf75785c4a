package watchserver

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"sync"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// maxVerifyKeyLen bounds the verification key read from a share: Tahoe's
// 2048-bit RSA keys take under 300 bytes of DER.
const maxVerifyKeyLen = 4096

// sharePrefixLen is how much of a share file ReadShare reads first, in
// one read: the container header and lease slots (468 bytes), the share
// header and, in every share Tahoe writes, the verification key (it ends
// at byte 869 of an SDMF share and near byte 2,460 of an MDMF one, whose
// key follows the encrypted private key). A key beyond it costs a
// second read of at most maxVerifyKeyLen bytes.
const sharePrefixLen = 4096

// maxShareReadLen bounds what ReadShare reads of one share file, whatever
// its headers claim.
const maxShareReadLen = sharePrefixLen + maxVerifyKeyLen

// prefixPool recycles the buffers share prefixes are read into: a
// subscribe reads one per share, and they never outlive the read.
var prefixPool = sync.Pool{New: func() any { return new([sharePrefixLen]byte) }}

// DiskSource reads mutable shares from a Tahoe storage directory laid out
// as Dir/<2-char prefix>/<storage index>/<share number>.
type DiskSource struct {
	Dir string // the node's storage/shares directory
}

// ShareDir returns the directory that holds storage index si's shares.
func (d DiskSource) ShareDir(si []byte) string {
	s := base32.Encode(si)
	return filepath.Join(d.Dir, s[:2], s)
}

// MutableShares implements ShareSource. Immutable shares are skipped. It
// costs one directory read and one read of a few KiB per share file
// (see readDirShares).
func (d DiskSource) MutableShares(ctx context.Context, si []byte) ([]ShareState, error) {
	const op = "watchserver.DiskSource"
	if len(si) != 16 {
		return nil, errkind.E(op, errkind.Usage, "storage index of %d bytes", len(si))
	}
	out, err := readDirShares(d.ShareDir(si))
	var le errListing
	switch {
	case errors.As(err, &le):
		return nil, errkind.E(op, errkind.Other, le.err)
	case err != nil:
		return nil, errkind.E(op, errkind.Corrupt, err)
	}
	return out, nil
}

// errListing wraps a failure to list a storage index's directory, which
// is not a damaged share.
type errListing struct{ err error }

func (e errListing) Error() string { return e.err.Error() }
func (e errListing) Unwrap() error { return e.err }

// shareNumber parses a share file's name: a canonical decimal 0-255, as
// the storage server writes them. Anything else (incoming temporaries,
// the storage server's journal, strays) is not a share.
func shareNumber[T string | []byte](name T) (int, bool) {
	if len(name) == 0 || len(name) > 3 || (len(name) > 1 && name[0] == '0') {
		return 0, false
	}
	n := 0
	for i := range len(name) {
		c := name[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 255
}

// ReadShare reads the state of the mutable share in a Tahoe mutable
// container (v1 or v2). ok is false when r holds some other kind of share.
// It reads only the container header, the share header and the
// verification key (in one read of sharePrefixLen bytes, plus one for a
// key beyond it), never the whole file: at most maxShareReadLen bytes.
func ReadShare(r io.ReaderAt, shnum int) (st ShareState, ok bool, err error) {
	buf := prefixPool.Get().(*[sharePrefixLen]byte)
	defer prefixPool.Put(buf)
	return readShare(r, shnum, buf[:])
}

// readShare is ReadShare reading the prefix into buf.
func readShare(r io.ReaderAt, shnum int, buf []byte) (st ShareState, ok bool, err error) {
	const op = "watchserver.ReadShare"
	n, err := r.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return st, false, err
	}
	b := buf[:n]
	if container.MutableVersion(b) == 0 {
		return st, false, nil // too short, or not a mutable container
	}
	ch, err := container.ParseMutableHeader(b)
	if err != nil {
		return st, false, errkind.E(op, errkind.Corrupt, "share %d: %w", shnum, err)
	}
	size := int64(min(ch.DataLength, container.MaxMutableDataSize))
	data := b[min(len(b), container.MutableDataOffset):]
	data = data[:min(int64(len(data)), size)]
	if st, err = readMutableState(r, data, size); err != nil {
		return st, false, errkind.E(op, errkind.Corrupt, "share %d: %w", shnum, err)
	}
	st.Shnum = shnum
	return st, true, nil
}

// readMutableState reads seqnum, root hash and key fingerprint from SDMF
// or MDMF share data of size bytes, of which data is the start (as much
// as the prefix read held); the key is read from r only when data does
// not hold it.
func readMutableState(r io.ReaderAt, data []byte, size int64) (ShareState, error) {
	var st ShareState
	h, err := mutable.ParseHeader(data[:min(len(data), mutable.MaxHeaderLen)])
	if err != nil {
		return st, err
	}
	vk := h.Layout.VerificationKey
	if vk.Start < 0 || vk.Len() <= 0 || vk.Len() > maxVerifyKeyLen || vk.End > size {
		return st, errors.New("verification key out of range")
	}
	var key []byte
	if vk.End <= int64(len(data)) {
		key = data[vk.Start:vk.End]
	} else {
		key = make([]byte, vk.Len())
		if _, err := r.ReadAt(key, container.MutableDataOffset+vk.Start); err != nil {
			return st, err
		}
	}
	st.Seqnum, st.Root = h.Seqnum, h.RootHash
	copy(st.Fingerprint[:], hashes.SSKPubkeyFingerprint(key))
	return st, nil
}
