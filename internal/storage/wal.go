package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// A read-test-write changes its shares in place, all or nothing, through
// a redo journal in the storage index directory: every edit (with its
// data) is written to walTemp and fsynced; renaming it to walName is the
// commit; the edits are then applied to the share files, which are
// fsynced before the journal is removed. A crash before the rename leaves
// the shares untouched (walTemp is thrown away at start); after it, the
// journal is replayed at start, and replaying is idempotent since every
// edit names absolute offsets. Tahoe ignores files whose names are not
// share numbers, so the journal never confuses it.
const (
	walName = "wal"
	walTemp = "wal.tmp"
)

// Journal record kinds.
const (
	walWrite  byte = 'w' // data at offset
	walZero   byte = 'z' // length zero bytes at offset
	walSize   byte = 's' // the file is offset bytes long
	walDelete byte = 'd' // the share is removed
)

// walRecord is one edit of a share file.
type walRecord struct {
	op     byte
	shnum  int
	offset uint64
	length uint64 // walZero only; walWrite's is len(data)
	data   []byte
}

// walHeadLen is the size of a record's fixed part: kind, share number,
// offset, length.
const walHeadLen = 1 + 2 + 8 + 8

// maxWALZero bounds one zero-fill record when replaying a journal.
const maxWALZero = 1 << 30

// commitEdits applies recs to the shares in dir all or nothing.
func commitEdits(dir string, recs []walRecord) error {
	if len(recs) == 0 {
		return nil
	}
	if err := writeWAL(filepath.Join(dir, walTemp), recs); err != nil {
		os.Remove(filepath.Join(dir, walTemp))
		return err
	}
	if err := os.Rename(filepath.Join(dir, walTemp), filepath.Join(dir, walName)); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := applyEdits(dir, func(yield func(walRecord) error) error {
		for _, r := range recs {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return finishWAL(dir)
}

// writeWAL writes the journal file and fsyncs it.
func writeWAL(path string, recs []walRecord) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	var head [walHeadLen]byte
	for _, r := range recs {
		n := r.length
		if r.op == walWrite {
			n = uint64(len(r.data))
		}
		head[0] = r.op
		binary.BigEndian.PutUint16(head[1:], uint16(r.shnum))
		binary.BigEndian.PutUint64(head[3:], r.offset)
		binary.BigEndian.PutUint64(head[11:], n)
		w.Write(head[:])
		if r.op == walWrite {
			w.Write(r.data)
		}
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// applyEdits applies the records each yields to the share files in dir,
// fsyncing every file it touched.
func applyEdits(dir string, each func(yield func(walRecord) error) error) error {
	files := map[int]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	open := func(n int) (*os.File, error) {
		if f := files[n]; f != nil {
			return f, nil
		}
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(n)), os.O_RDWR|os.O_CREATE, 0o600)
		if err == nil {
			files[n] = f
		}
		return f, err
	}
	err := each(func(r walRecord) error {
		if r.op == walDelete {
			if f := files[r.shnum]; f != nil {
				f.Close()
				delete(files, r.shnum)
			}
			if err := os.Remove(filepath.Join(dir, strconv.Itoa(r.shnum))); err != nil && !os.IsNotExist(err) {
				return err
			}
			return nil
		}
		f, err := open(r.shnum)
		if err != nil {
			return err
		}
		return applyRecord(f, r)
	})
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

func applyRecord(f *os.File, r walRecord) error {
	switch r.op {
	case walWrite:
		_, err := f.WriteAt(r.data, int64(r.offset))
		return err
	case walZero:
		zeros := make([]byte, min(r.length, 1<<16))
		for done := uint64(0); done < r.length; {
			n := min(uint64(len(zeros)), r.length-done)
			if _, err := f.WriteAt(zeros[:n], int64(r.offset+done)); err != nil {
				return err
			}
			done += n
		}
		return nil
	case walSize:
		return f.Truncate(int64(r.offset))
	}
	return fmt.Errorf("journal record of unknown kind %q", r.op)
}

// finishWAL removes an applied journal.
func finishWAL(dir string) error {
	if err := os.Remove(filepath.Join(dir, walName)); err != nil {
		return err
	}
	return syncDir(dir)
}

// replayWAL applies a committed journal left by a crash, reading it a
// record at a time, and removes it.
func replayWAL(dir string) error {
	f, err := os.Open(filepath.Join(dir, walName))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	err = applyEdits(dir, func(yield func(walRecord) error) error {
		var head [walHeadLen]byte
		for {
			if _, err := io.ReadFull(r, head[:]); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return fmt.Errorf("journal %s: %w", dir, err)
			}
			rec := walRecord{op: head[0], shnum: int(binary.BigEndian.Uint16(head[1:])),
				offset: binary.BigEndian.Uint64(head[3:]), length: binary.BigEndian.Uint64(head[11:])}
			if rec.op == walWrite {
				if rec.length > maxWALZero {
					return fmt.Errorf("journal %s: record of %d bytes", dir, rec.length)
				}
				rec.data = make([]byte, rec.length)
				if _, err := io.ReadFull(r, rec.data); err != nil {
					return fmt.Errorf("journal %s: %w", dir, err)
				}
			} else if rec.op == walZero && rec.length > maxWALZero {
				return fmt.Errorf("journal %s: zero fill of %d bytes", dir, rec.length)
			}
			if err := yield(rec); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return err
	}
	return finishWAL(dir)
}
