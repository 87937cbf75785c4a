//go:build !linux

package watchserver

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// readDirShares reads the state of every mutable share in dir, a storage
// index's directory; none if it does not exist. A listing failure is an
// errListing.
func readDirShares(dir string) ([]ShareState, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errListing{err}
	}
	var out []ShareState
	for _, e := range ents {
		n, ok := shareNumber(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		st, ok, err := readShareFile(filepath.Join(dir, e.Name()), n)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted between listing and reading
		}
		if err != nil {
			return nil, err
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
