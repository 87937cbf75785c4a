package watchserver

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// maxVerifyKeyLen bounds the verification key read from a share: Tahoe's
// 2048-bit RSA keys take under 300 bytes of DER.
const maxVerifyKeyLen = 4096

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
// It reads only the container header, the share header and the
// verification key, never the whole file.
func ReadShare(r io.ReaderAt, shnum int) (st ShareState, ok bool, err error) {
	const op = "watchserver.ReadShare"
	var magic [32]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return st, false, nil // too short to be a mutable container
		}
		return st, false, err
	}
	if container.MutableVersion(magic[:]) == 0 {
		return st, false, nil
	}
	ch, err := container.ReadMutableHeader(r)
	if err != nil {
		return st, false, errkind.E(op, errkind.Corrupt, "share %d: %w", shnum, err)
	}
	data := io.NewSectionReader(r, container.MutableDataOffset, int64(min(ch.DataLength, container.MaxMutableDataSize)))
	st, err = readMutableState(data)
	if err != nil {
		return st, false, errkind.E(op, errkind.Corrupt, "share %d: %w", shnum, err)
	}
	st.Shnum = shnum
	return st, true, nil
}

// readMutableState reads seqnum, root hash and key fingerprint from SDMF
// or MDMF share data.
func readMutableState(r *io.SectionReader) (ShareState, error) {
	var st ShareState
	b := make([]byte, min(mutable.MaxHeaderLen, r.Size()))
	if _, err := r.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return st, err
	}
	h, err := mutable.ParseHeader(b)
	if err != nil {
		return st, err
	}
	vk := h.Layout.VerificationKey
	if vk.Len() <= 0 || vk.Len() > maxVerifyKeyLen || vk.End > r.Size() {
		return st, errors.New("verification key out of range")
	}
	key := make([]byte, vk.Len())
	if _, err := r.ReadAt(key, vk.Start); err != nil {
		return st, err
	}
	st.Seqnum, st.Root = h.Seqnum, h.RootHash
	copy(st.Fingerprint[:], hashes.SSKPubkeyFingerprint(key))
	return st, nil
}
