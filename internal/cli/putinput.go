package cli

import (
	"bytes"
	"io"
	"os"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// spoolLimit is how much of a stream (stdin, a pipe) put holds in memory.
// A longer stream is spooled to a temporary file first: a mutable write
// needs its size in advance and a convergent upload reads its input
// twice, and this way both stream any size in bounded memory.
const spoolLimit = 8 << 20

// input is what put writes: a regular file, or a stream held in memory or
// spooled to a temporary file.
type input struct {
	r interface {
		io.Reader
		io.ReaderAt
	}
	size  int64
	close func()
}

// openInput opens name ("-" for stdin) for put. A regular file (stdin
// redirected from one included) is read in place; anything else is
// spooled (see spoolLimit).
func openInput(name string, stdin io.Reader) (*input, error) {
	src := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, errkind.E("put", errkind.Usage, err)
		}
		if in := regular(f); in != nil {
			return in, nil
		}
		defer f.Close()
		src = f
	} else if f, ok := stdin.(*os.File); ok {
		if in := regular(f); in != nil {
			in.close = func() {} // stdin stays open
			return in, nil
		}
	}
	return spool(src)
}

// regular returns f as an input if it is a regular file read from its
// start, nil otherwise.
func regular(f *os.File) *input {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != 0 {
		return nil
	}
	return &input{r: f, size: st.Size(), close: func() { f.Close() }}
}

// spool reads src into memory if it ends within spoolLimit bytes, else
// into a temporary file, unlinked at once where the system allows (so
// nothing is left behind even if put is killed) and at close otherwise.
func spool(src io.Reader) (*input, error) {
	head, err := io.ReadAll(io.LimitReader(src, spoolLimit+1))
	if err != nil {
		return nil, errkind.E("put", errkind.Other, "reading the input: %w", err)
	}
	if len(head) <= spoolLimit {
		return &input{r: bytes.NewReader(head), size: int64(len(head)), close: func() {}}, nil
	}
	f, err := os.CreateTemp("", "tahoe-watch-put-*")
	if err != nil {
		return nil, errkind.E("put", errkind.Other, "the input is longer than %d MiB and cannot be spooled to a temporary file (set TMPDIR): %w", spoolLimit>>20, err)
	}
	name := f.Name()
	unlinked := os.Remove(name) == nil
	in := &input{r: f, close: func() {
		f.Close()
		if !unlinked {
			os.Remove(name)
		}
	}}
	in.size, err = io.Copy(f, io.MultiReader(bytes.NewReader(head), src))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart) // for the writers that read it in order
	}
	if err != nil {
		in.close()
		return nil, errkind.E("put", errkind.Other, "spooling the input to %s: %w", os.TempDir(), err)
	}
	return in, nil
}
