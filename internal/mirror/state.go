package mirror

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Record is what the mirror last wrote at one local path. Only read caps
// are ever stored.
type Record struct {
	Path     string `json:"path"` // slash-separated, below LOCALDIR
	Cap      string `json:"cap"`  // the child's read cap
	Seqnum   uint64 `json:"seqnum,omitempty"`
	RootHash string `json:"roothash,omitempty"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"` // hex of the bytes written
	MTime    int64  `json:"mtime"`  // UnixNano of the file after it was written
	// Conflict is set when the local file is the user's and the remote
	// version described here was written beside it.
	Conflict bool `json:"conflict,omitempty"`
	Deleted  bool `json:"deleted,omitempty"` // a journal tombstone
}

// sameRemote reports whether r already holds the remote version named by
// c (and, for mutables, seqnum and roothash).
func (r *Record) sameRemote(c string, seq uint64, root string) bool {
	return r != nil && r.Cap == c && r.Seqnum == seq && r.RootHash == root
}

// state is the journal of Records in LOCALDIR/.tahoe-watch/state.jsonl:
// one JSON record per line, later lines winning, compacted on open and
// again whenever it holds more than compactFactor lines per live record.
type state struct {
	dir string

	mu   sync.Mutex
	recs map[string]*Record
	// kids indexes recs by directory: the recorded paths and the
	// directories holding records just below each path ("" for the
	// top), so the records below a path cost their own number, not a
	// scan of the journal.
	kids map[string]map[string]struct{}
	// bySum indexes recs by SHA256, for a rename's or copy's contents.
	bySum map[string]map[string]struct{}
	f     *os.File
	lock  *os.File
	lines int // lines in the journal now
	next  int // compact when lines reaches next
}

const journalName = "state.jsonl"

// maxJournalPath bounds the paths a journal is read with, far above any
// a file system resolves (4,096 bytes on Linux, 32,767 UTF-16 units on
// Windows), so that indexing a damaged line's path of many thousand
// names costs little.
const maxJournalPath = 32 << 10

// A journal is compacted when it has compactFactor lines per live record
// and at least compactMin lines, so a long live run does not grow it
// without bound.
const (
	compactFactor = 4
	compactMin    = 256
)

// openState loads the journal in dir (creating dir 0700), compacts it and
// opens it for appending.
func openState(dir string) (*state, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return nil, errors.Join(errors.New(dir+" is not a directory"), err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &state{dir: dir, recs: map[string]*Record{}, lock: lock}
	if err = s.load(); err == nil {
		err = s.compact()
	}
	if err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// load replays the journal; a torn last line (a crash mid-append) is
// ignored.
func (s *state) load() error {
	f, err := os.OpenFile(filepath.Join(s.dir, journalName), os.O_RDONLY|syscallNoFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		s.lines++
		var r Record
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Path == "" || len(r.Path) > maxJournalPath {
			continue
		}
		if r.Deleted {
			s.del(r.Path)
			continue
		}
		s.set(&r)
	}
	return sc.Err()
}

// compact rewrites the journal with one line per live record,
// atomically: a new file is written and synced, renamed over the old one
// and kept open as the journal appended to. On error the journal is as
// it was. The caller holds mu (or is openState).
func (s *state) compact() error {
	f, err := s.rewrite()
	if err != nil {
		s.next = 2 * max(s.lines, compactMin) // do not retry on every put
		return err
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f, s.lines = f, len(s.recs)
	s.next = max(compactMin, compactFactor*len(s.recs))
	return nil
}

// rewrite writes the live records to a new journal and returns it, open
// at its end.
func (s *state) rewrite() (*os.File, error) {
	tmp, err := os.CreateTemp(s.dir, tmpPrefix)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fail(err)
	}
	w := bufio.NewWriter(tmp)
	enc := json.NewEncoder(w)
	for _, p := range s.paths("") {
		if err := enc.Encode(s.recs[p]); err != nil {
			return fail(err)
		}
	}
	if err := errors.Join(w.Flush(), tmp.Sync()); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.dir, journalName)); err != nil {
		return fail(err)
	}
	syncDir(s.dir)
	return tmp, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// get returns a copy of the record at path, or nil.
func (s *state) get(path string) *Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.recs[path]; r != nil {
		c := *r
		return &c
	}
	return nil
}

// put records r (or, with r.Deleted, forgets r.Path) and appends it to
// the journal, compacting the journal when it has grown too long (a
// failed compaction is retried later; the record is journalled anyway).
func (s *state) put(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Deleted {
		s.del(r.Path)
	} else {
		s.set(&r)
	}
	if _, err = s.f.Write(append(b, '\n')); err != nil {
		return err
	}
	if s.lines++; s.lines >= s.next {
		s.compact()
	}
	return nil
}

// paths returns the recorded paths at or below prefix ("" for all),
// sorted. Below a prefix it walks the index, so it costs the number of
// paths it returns (and the directories above them).
func (s *state) paths(prefix string) []string {
	var out []string
	if prefix == "" {
		for p := range s.recs {
			out = append(out, p)
		}
	} else {
		if s.recs[prefix] != nil {
			out = append(out, prefix)
		}
		out = s.below(prefix, out)
	}
	sort.Strings(out)
	return out
}

// below appends the recorded paths below dir to out.
func (s *state) below(dir string, out []string) []string {
	for todo := []string{dir}; len(todo) > 0; {
		d := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for c := range s.kids[d] {
			if s.recs[c] != nil {
				out = append(out, c)
			}
			todo = append(todo, c)
		}
	}
	return out
}

// parent is the path p is indexed under: what precedes its last slash.
func parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// set records r, indexing it. The caller holds mu (or is loading).
func (s *state) set(r *Record) {
	if s.kids == nil {
		s.kids, s.bySum = map[string]map[string]struct{}{}, map[string]map[string]struct{}{}
	}
	if old := s.recs[r.Path]; old != nil {
		unindex(s.bySum, old.SHA256, old.Path)
	}
	s.recs[r.Path] = r
	index(s.bySum, r.SHA256, r.Path)
	for p := r.Path; p != ""; p = parent(p) {
		if _, ok := s.kids[parent(p)][p]; ok {
			break
		}
		index(s.kids, parent(p), p)
	}
}

// del forgets the record at p and the directories in the index that
// held nothing else. The caller holds mu (or is loading).
func (s *state) del(p string) {
	old := s.recs[p]
	if old == nil {
		return
	}
	delete(s.recs, p)
	unindex(s.bySum, old.SHA256, p)
	for ; p != "" && s.recs[p] == nil && len(s.kids[p]) == 0; p = parent(p) {
		unindex(s.kids, parent(p), p)
	}
}

func index(m map[string]map[string]struct{}, k, v string) {
	if m[k] == nil {
		m[k] = map[string]struct{}{}
	}
	m[k][v] = struct{}{}
}

func unindex(m map[string]map[string]struct{}, k, v string) {
	delete(m[k], v)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

// withSum calls match on the records whose SHA256 is sum (not copies;
// match must not keep or change them) until it returns true.
func (s *state) withSum(sum string, match func(*Record) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.bySum[sum] {
		if match(s.recs[p]) {
			return
		}
	}
}

// under is paths with the lock held.
func (s *state) under(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paths(prefix)
}

// close syncs and closes the journal.
func (s *state) close() error {
	return errors.Join(s.f.Sync(), s.f.Close(), s.lock.Close())
}
