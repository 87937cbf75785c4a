package watchserver

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// hugeFile is a share file of b followed by zeros up to 1 TiB, counting
// the bytes read from it.
type hugeFile struct {
	b    []byte
	read int64
}

const hugeSize = 1 << 40

func (h *hugeFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= hugeSize {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), hugeSize-off))
	for i := range n {
		p[i] = 0
	}
	if off < int64(len(h.b)) {
		copy(p[:n], h.b[off:])
	}
	h.read += int64(n)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// FuzzReadShareBounded: what serve and the notifier read of a share
// file (written by any client holding a write enabler, or damaged) is
// bounded whatever its headers claim: one prefix of a few KiB (the
// container header, the share header and usually the key) and at most
// one verification key beyond it, never the data length a header
// claims, here up to 1 TiB.
func FuzzReadShareBounded(f *testing.F) {
	for _, p := range []string{"dq/dqrkoatek6jcaq4mqnlomig4wq/0", "kv/kv6sea4n2wbyw7fv6ze6rddfwm/0"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "grid", "shares", "storage1", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 2000)])
	}
	const bound = sharePrefixLen + maxVerifyKeyLen
	if bound != maxShareReadLen || sharePrefixLen < container.MutableDataOffset+mutable.MaxHeaderLen {
		f.Fatal("the prefix must hold both headers")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h := &hugeFile{b: b}
		st, ok, err := ReadShare(h, 1)
		if h.read > bound {
			t.Fatalf("read %d bytes of a share file; bound %d", h.read, bound)
		}
		if ok && (err != nil || st.Shnum != 1) {
			t.Fatalf("ok with err %v, shnum %d", err, st.Shnum)
		}
	})
}
