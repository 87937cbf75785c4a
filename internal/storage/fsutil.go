package storage

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// Names of journal files inside a storage index directory. Tahoe ignores
// files whose names are not share numbers, so they never confuse it.
const (
	newSuffix   = ".new"
	commitName  = "commit"
	commitTemp  = "commit.tmp"
	opWrite     = "w"
	opDelete    = "d"
	dirFileMode = 0o700
)

// writeFileSync writes data to path and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs a directory so renames and creations in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// mkdirSync creates dir and its missing parents up to stop, fsyncing each
// parent that gained an entry.
func mkdirSync(dir, stop string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir && parent != stop {
		if err := mkdirSync(parent, stop); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirFileMode); err != nil && !os.IsExist(err) {
		return err
	}
	return syncDir(parent)
}

// replaceFile atomically replaces path with data.
func replaceFile(path string, data []byte) error {
	tmp := path + newSuffix
	if err := writeFileSync(tmp, data); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// recoverDir finishes a committed journal in dir (the write-ahead journal
// of wal.go, or the rename journal that older versions of serve wrote:
// "w N" renames N.new over N, "d N" removes N), or throws away the
// leftovers of one that never committed.
func recoverDir(dir string) error {
	if err := replayJournal(dir); err != nil {
		return err
	}
	if err := replayWAL(dir); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, newSuffix) || n == commitTemp || n == walTemp {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

func replayJournal(dir string) error {
	f, err := os.Open(filepath.Join(dir, commitName))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		op, name, _ := strings.Cut(sc.Text(), " ")
		if _, ok := parseShnum(name); !ok {
			continue
		}
		path := filepath.Join(dir, name)
		switch op {
		case opWrite:
			err = os.Rename(path+newSuffix, path)
		case opDelete:
			err = os.Remove(path)
		}
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, commitName)); err != nil {
		return err
	}
	return syncDir(dir)
}

// recoverAll runs recoverDir on every storage index directory that holds
// journal files.
func (b *Backend) recoverAll() error {
	prefixes, err := os.ReadDir(b.shares)
	if err != nil {
		return err
	}
	for _, p := range prefixes {
		if !p.IsDir() || p.Name() == "incoming" {
			continue
		}
		sis, err := os.ReadDir(filepath.Join(b.shares, p.Name()))
		if err != nil {
			return err
		}
		for _, s := range sis {
			if err := b.recoverIfNeeded(filepath.Join(b.shares, p.Name(), s.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *Backend) recoverIfNeeded(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil // not a directory: not ours to judge
	}
	for _, e := range ents {
		if n := e.Name(); n == commitName || n == commitTemp || n == walName || n == walTemp || strings.HasSuffix(n, newSuffix) {
			b.log.Info("storage: recovering interrupted write", "dir", dir)
			return recoverDir(dir)
		}
	}
	return nil
}
