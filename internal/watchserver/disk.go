package watchserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// Minimal reader of Tahoe's mutable container and share headers, kept
// here until internal/tahoe/container and internal/tahoe/mutable land.
const (
	containerMagicPrefix = "Tahoe mutable container v"
	containerHeaderLen   = 100 // magic, write enabler node id, write enabler, data length, extra lease offset
	containerDataOffset  = containerHeaderLen + 4*92
	sdmfVersion          = 0
	mdmfVersion          = 1
	sdmfHeaderLen        = 107 // >BQ32s16s BBQQ LLLLQQ
	mdmfHeaderLen        = 123 // >BQ32sBBQQ QQQQQQQQ
	maxVerifyKeyLen      = 4096
)

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

// MutableShares implements ShareSource. Immutable shares are skipped.
func (d DiskSource) MutableShares(ctx context.Context, si []byte) ([]ShareState, error) {
	const op = "watchserver.DiskSource"
	if len(si) != 16 {
		return nil, errkind.E(op, errkind.Usage, "storage index of %d bytes", len(si))
	}
	dir := d.ShareDir(si)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	var out []ShareState
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < 0 || n > 255 || !e.Type().IsRegular() {
			continue // incoming/ temporaries and strays
		}
		st, ok, err := readShareFile(filepath.Join(dir, e.Name()), n)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted between listing and reading
		}
		if err != nil {
			return nil, errkind.E(op, errkind.Corrupt, err)
		}
		if ok {
			out = append(out, st)
		}
	}
	return out, nil
}

func readShareFile(path string, shnum int) (ShareState, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return ShareState{}, false, err
	}
	defer f.Close()
	return ReadShare(f, shnum)
}

// ReadShare reads the state of the mutable share in a Tahoe mutable
// container (v1 or v2). ok is false when r holds some other kind of share.
func ReadShare(r io.ReaderAt, shnum int) (st ShareState, ok bool, err error) {
	const op = "watchserver.ReadShare"
	var hdr [containerHeaderLen]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return st, false, nil // too short to be a mutable container
		}
		return st, false, err
	}
	if !isMutableMagic(hdr[:32]) {
		return st, false, nil
	}
	dataLen := binary.BigEndian.Uint64(hdr[84:92])
	data := io.NewSectionReader(r, containerDataOffset, int64(min(dataLen, 1<<62)))
	st, err = parseMutableShare(data)
	if err != nil {
		return st, false, errkind.E(op, errkind.Corrupt, "share %d: %v", shnum, err)
	}
	st.Shnum = shnum
	return st, true, nil
}

func isMutableMagic(m []byte) bool {
	rest, ok := bytes.CutPrefix(m, []byte(containerMagicPrefix))
	return ok && (rest[0] == '1' || rest[0] == '2') && rest[1] == '\n'
}

// parseMutableShare extracts seqnum, root hash and key fingerprint from
// SDMF or MDMF share data.
func parseMutableShare(r *io.SectionReader) (ShareState, error) {
	var st ShareState
	var h [mdmfHeaderLen]byte
	n, err := r.ReadAt(h[:], 0)
	if n < sdmfHeaderLen {
		if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("share data shorter than its header")
		}
		return st, err
	}
	st.Seqnum = binary.BigEndian.Uint64(h[1:9])
	copy(st.Root[:], h[9:41])
	var lo, hi uint64
	switch h[0] {
	case sdmfVersion:
		lo, hi = sdmfHeaderLen, uint64(binary.BigEndian.Uint32(h[75:79]))
	case mdmfVersion:
		if n < mdmfHeaderLen {
			return st, errors.New("MDMF share data shorter than its header")
		}
		lo, hi = binary.BigEndian.Uint64(h[83:91]), binary.BigEndian.Uint64(h[91:99])
	default:
		return st, errors.New("unknown mutable share version " + strconv.Itoa(int(h[0])))
	}
	if hi <= lo || hi-lo > maxVerifyKeyLen || hi > uint64(r.Size()) {
		return st, errors.New("verification key offsets out of range")
	}
	key := make([]byte, hi-lo)
	if _, err := r.ReadAt(key, int64(lo)); err != nil {
		return st, err
	}
	copy(st.Fingerprint[:], hashes.SSKPubkeyFingerprint(key))
	return st, nil
}
