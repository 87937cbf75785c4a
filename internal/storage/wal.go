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
//
// Bytes a write puts past the current end of a share file change nothing
// a reader of the old version uses, so they skip the journal: the
// journal starts with an undo record per such share (its old size, -1
// for a new share), is fsynced (with its directory entry), and only then
// do those bytes go straight to the share files, fsynced before the
// commit. After a crash before the commit, recovery reads the undo
// records of the uncommitted walTemp and cuts the shares back to their
// old sizes (removing new ones); after it, the journal is replayed as
// usual, undo records ignored. A large write appending to or creating
// shares so costs one copy of its data on disk, not two. The same holds
// for the bytes between the end of a share's data and the extra leases
// (the room a shrunk share keeps, see mutableFile.edits): no reader of
// the old version looks at them, so they are written directly too, and
// need no undo record (whatever a failed write leaves there stays
// unread). A chunked publish that shrinks each share in its first
// request so writes every later chunk once.
//
// A write that fails without a crash is mended at once, not at the next
// start: one that fails before its commit is undone as above, and a
// journal left by one that fails after it is replayed before the next
// read-test-write of that storage index reads its shares.
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
	walUndo   byte = 'u' // uncommitted: cut the share back to offset bytes (all ones: remove it)
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

// span is a range [lo, hi) of file offsets.
type span struct{ lo, hi uint64 }

// commitEdits applies recs to the shares in dir all or nothing; sizes
// are the old sizes of the shares they change (-1 for new ones), dead
// (may be nil) the bytes of each that no reader of the old version uses.
func commitEdits(dir string, recs []walRecord, sizes map[int]int64, dead map[int]span) error {
	if len(recs) == 0 {
		return nil
	}
	direct, journal := splitDirect(recs, sizes, dead)
	undo := undoRecords(direct, sizes)
	if err := writeAhead(dir, append(undo, journal...), direct, len(undo) > 0); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(dir, walTemp), filepath.Join(dir, walName)); err != nil {
		return abandon(dir, err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := applyEdits(dir, records(journal)); err != nil {
		return err
	}
	return dropWAL(dir)
}

// writeAhead writes the uncommitted journal recs to walTemp and the
// direct records to the shares, all fsynced. With undo records in recs
// the journal, bytes and name, is durable before any direct byte is
// written (the directory fsync overlapping the file's); without, nothing
// a crash leaves of the direct writes is read by anyone, so both are
// written and fsynced at once (their disk flushes overlap). A failure is
// undone before it returns.
func writeAhead(dir string, recs, direct []walRecord, undo bool) error {
	tmp := filepath.Join(dir, walTemp)
	if undo || len(direct) == 0 {
		var entry func() error // the journal's directory entry, made durable with its bytes
		if undo && len(direct) > 0 {
			entry = func() error { return syncDir(dir) }
		}
		if err := writeWALWith(tmp, recs, entry); err != nil {
			os.Remove(tmp)
			return err
		}
		if err := writeDirect(dir, direct); err != nil {
			return abandon(dir, err)
		}
		return nil
	}
	walErr := make(chan error, 1)
	go func() { walErr <- writeWAL(tmp, recs) }()
	err := writeDirect(dir, direct)
	if werr := <-walErr; werr != nil {
		err = errors.Join(err, werr)
	}
	if err != nil {
		return abandon(dir, err)
	}
	return nil
}

// writeDirect writes the bytes no reader of the old version uses and
// fsyncs them.
func writeDirect(dir string, direct []walRecord) error {
	if len(direct) == 0 {
		return nil
	}
	return applyEdits(dir, records(direct))
}

// abandon undoes an uncommitted write that failed (a disk full while
// appending is the common case) now rather than at the next start, so
// that the shares it extended or created do not stay that way, readable
// as corrupt, and removes its journal. It returns err.
func abandon(dir string, err error) error {
	if uerr := undoUncommitted(dir); uerr != nil {
		return errors.Join(err, uerr)
	}
	os.Remove(filepath.Join(dir, walTemp))
	return err
}

// undoRecords lists, once per share that direct writes extend or
// create, the size to cut it back to if the write never commits.
func undoRecords(direct []walRecord, sizes map[int]int64) []walRecord {
	var out []walRecord
	seen := map[int]bool{}
	for _, r := range direct {
		if old := sizes[r.shnum]; old >= 0 && r.offset < uint64(old) {
			continue // inside the file: bytes the old version does not read
		}
		if !seen[r.shnum] {
			seen[r.shnum] = true
			out = append(out, walRecord{op: walUndo, shnum: r.shnum, offset: uint64(sizes[r.shnum])})
		}
	}
	return out
}

// records yields recs in order.
func records(recs []walRecord) func(yield func(walRecord) error) error {
	return func(yield func(walRecord) error) error {
		for _, r := range recs {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// splitDirect separates the writes (and zero fills) past the old end of
// their share files, or inside its dead span, from the rest, cutting
// records that straddle a boundary. The two sets touch disjoint bytes,
// so applying one before the other is the same as applying them in
// order.
func splitDirect(recs []walRecord, sizes map[int]int64, dead map[int]span) (direct, journal []walRecord) {
	for _, r := range recs {
		old, ok := sizes[r.shnum]
		if !ok || (r.op != walWrite && r.op != walZero) {
			journal = append(journal, r)
			continue
		}
		end := uint64(max(old, 0))
		d := dead[r.shnum]
		d.hi = min(d.hi, end)
		for _, at := range []uint64{d.lo, d.hi, end} {
			var lo walRecord
			if lo, r = cutRecord(r, at); recLen(lo) > 0 {
				journal, direct = place(lo, d, end, journal, direct)
			}
		}
		if recLen(r) > 0 {
			journal, direct = place(r, d, end, journal, direct)
		}
	}
	return direct, journal
}

// place appends r to direct when it starts past end or inside d (r lies
// wholly on one side of each boundary), else to journal.
func place(r walRecord, d span, end uint64, journal, direct []walRecord) ([]walRecord, []walRecord) {
	if r.offset >= end || (d.lo <= r.offset && r.offset < d.hi) {
		return journal, append(direct, r)
	}
	return append(journal, r), direct
}

// recLen is the number of bytes a write or zero fill covers.
func recLen(r walRecord) uint64 {
	if r.op == walWrite {
		return uint64(len(r.data))
	}
	return r.length
}

// cutRecord splits a write or zero fill at file offset at into the part
// before it (empty when r starts at or after it) and the rest.
func cutRecord(r walRecord, at uint64) (lo, hi walRecord) {
	n := recLen(r)
	if at <= r.offset || at >= r.offset+n {
		lo = r
		lo.data, lo.length = nil, 0
		if at >= r.offset+n {
			return r, lo
		}
		return lo, r
	}
	k := at - r.offset
	lo, hi = r, r
	hi.offset = at
	if r.op == walWrite {
		lo.data, hi.data = r.data[:k], r.data[k:]
	} else {
		lo.length, hi.length = k, n-k
	}
	return lo, hi
}

// writeWAL writes the journal file and fsyncs it.
func writeWAL(path string, recs []walRecord) error { return writeWALWith(path, recs, nil) }

// writeWALWith is writeWAL running also (if not nil) once the file
// exists, concurrently with writing and fsyncing it, and waiting for it
// too: the directory fsync that makes the new file's name durable, whose
// disk flush so overlaps the file's own.
func writeWALWith(path string, recs []walRecord, also func() error) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if also != nil {
		done := make(chan error, 1)
		go func() { done <- also() }()
		defer func() { err = errors.Join(err, <-done) }()
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
// fsyncing every file it touched, and dir when it created or removed one.
func applyEdits(dir string, each func(yield func(walRecord) error) error) error {
	files := map[int]*os.File{}
	entries := false // a file was created or removed
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	open := func(n int) (*os.File, error) {
		if f := files[n]; f != nil {
			return f, nil
		}
		path := filepath.Join(dir, strconv.Itoa(n))
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if os.IsNotExist(err) {
			entries = true
			f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		}
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
			entries = true
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
	if err := syncAll(files); err != nil {
		return err
	}
	if !entries {
		return nil
	}
	return syncDir(dir)
}

// syncAll fsyncs files at once, so that their disk flushes overlap
// (the file system commits them together) rather than queue.
func syncAll(files map[int]*os.File) error {
	if len(files) == 1 {
		for _, f := range files {
			return f.Sync()
		}
	}
	errs := make(chan error, len(files))
	for _, f := range files {
		go func() { errs <- f.Sync() }()
	}
	var err error
	for range files {
		err = errors.Join(err, <-errs)
	}
	return err
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
	if err := dropWAL(dir); err != nil {
		return err
	}
	return syncDir(dir)
}

// dropWAL removes a journal whose edits are applied and fsynced, without
// making the removal durable: should a crash bring it back, replaying it
// again changes nothing, as its edits name absolute offsets and nothing
// wrote the shares since but a later write, which makes the removal
// durable first (the directory fsync before its direct writes, or its
// own journal renamed over this one).
func dropWAL(dir string) error {
	return os.Remove(filepath.Join(dir, walName))
}

// replayWAL applies a committed journal left by a crash, reading it a
// record at a time, and removes it; without one, it undoes the direct
// writes of an uncommitted one (walTemp), which recoverDir then removes.
func replayWAL(dir string) error {
	f, err := os.Open(filepath.Join(dir, walName))
	if os.IsNotExist(err) {
		return undoUncommitted(dir)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	err = applyEdits(dir, func(yield func(walRecord) error) error {
		return readWAL(f, dir, func(rec walRecord) error {
			if rec.op == walUndo {
				return nil
			}
			return yield(rec)
		})
	})
	if err != nil {
		return err
	}
	return finishWAL(dir)
}

// undoUncommitted cuts the shares an uncommitted journal's direct writes
// extended back to their old sizes, removing those it created. Undo
// records come first and are complete before any direct write starts,
// so a journal cut short by the crash still holds all that matter.
func undoUncommitted(dir string) error {
	f, err := os.Open(filepath.Join(dir, walTemp))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	undo := func(rec walRecord) error {
		if rec.op != walUndo {
			return errStopReading
		}
		path := filepath.Join(dir, strconv.Itoa(rec.shnum))
		var err error
		if int64(rec.offset) < 0 {
			err = os.Remove(path)
		} else {
			err = os.Truncate(path, int64(rec.offset))
		}
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	if err := readWAL(f, dir, undo); err != nil && !errors.Is(err, errStopReading) && !errors.Is(err, errTruncatedWAL) {
		return err
	}
	return syncDir(dir)
}

var (
	errStopReading  = errors.New("stop reading the journal")
	errTruncatedWAL = errors.New("journal cut short")
)

// readWAL calls each for every record of a journal, in order.
func readWAL(f *os.File, dir string, each func(walRecord) error) error {
	r := bufio.NewReaderSize(f, 1<<16)
	var head [walHeadLen]byte
	for {
		if _, err := io.ReadFull(r, head[:]); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("journal %s: %w: %v", dir, errTruncatedWAL, err)
		}
		rec := walRecord{op: head[0], shnum: int(binary.BigEndian.Uint16(head[1:])),
			offset: binary.BigEndian.Uint64(head[3:]), length: binary.BigEndian.Uint64(head[11:])}
		if rec.op == walWrite {
			if rec.length > maxWALZero {
				return fmt.Errorf("journal %s: record of %d bytes", dir, rec.length)
			}
			rec.data = make([]byte, rec.length)
			if _, err := io.ReadFull(r, rec.data); err != nil {
				return fmt.Errorf("journal %s: %w: %v", dir, errTruncatedWAL, err)
			}
		} else if rec.op == walZero && rec.length > maxWALZero {
			return fmt.Errorf("journal %s: zero fill of %d bytes", dir, rec.length)
		}
		if err := each(rec); err != nil {
			return err
		}
	}
}
