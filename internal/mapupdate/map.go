// Package mapupdate finds out which versions of a mutable file the grid
// holds: Tahoe's "servermap update". It asks every server at once which
// shares of the storage index it holds, reads each share's signed prefix
// in one range request, verifies it against the cap's fingerprint, and
// groups the good shares into versions.
//
// The resulting Map tells a reader which version to retrieve (Best), and
// tells a watcher or an operator what else is going on: versions newer
// than Best that are not yet recoverable, uncoordinated writes (two
// recoverable versions with one sequence number), and how each server
// answered.
package mapupdate

import (
	"bytes"
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/mutable"
)

// ErrInProgress marks a share whose header is provisional: a streamed
// write of a new version holds it (see ServerResult.InProgress).
var ErrInProgress = errors.New("a streamed write of a new version is in progress")

// Map is what the grid holds for one mutable storage index.
type Map struct {
	StorageIndex []byte
	// Versions are all versions seen with at least one verified share,
	// newest first (by sequence number, then root hash).
	Versions []*Version
	// Best is the newest recoverable version, or nil if none is.
	Best *Version
	// Newer are the versions newer than Best (all versions if Best is
	// nil) that are not recoverable: a write in progress, or one that
	// reached too few servers.
	Newer []*Version
	// Uncoordinated lists, for each sequence number held by more than one
	// recoverable version, those versions: two writers raced.
	Uncoordinated [][]*Version
	// Servers are the per-server outcomes, in the order servers were given.
	Servers []*ServerResult
}

// Version is one version of the file and the verified shares of it.
type Version struct {
	ID mutable.VersionID
	// Prefix is the verified prefix of one of its shares: header,
	// verification key and signature (identical for all its shares).
	Prefix *mutable.Prefix
	// Shares are the verified shares seen, ordered by share number, then
	// server order. One share number may be held by several servers.
	Shares []*Share
	// Claimed are shares of the version that servers claim (Server.Claims)
	// and that were not read: an update from claims verifies one share of
	// a version and takes the others' claims of it as they are. Only
	// updates given claims have any. Retrieval uses Shares alone.
	Claimed []ClaimedShare
}

// ClaimedShare is a share a server claims to hold of a version, unread.
type ClaimedShare struct {
	Num    int
	Server *ServerResult
}

// Share is one verified share of a version on one server.
type Share struct {
	Num    int
	Server *ServerResult
	// Prefix is this share's verified prefix (its share hash chain is
	// its own).
	Prefix *mutable.Prefix
	// Head holds the first bytes of the share as read (at least the
	// prefix); retrieval can take small hash trees and blocks from it.
	Head []byte
}

// Distinct is the number of distinct share numbers held, verified or
// claimed.
func (v *Version) Distinct() int {
	seen := map[int]bool{}
	for _, s := range v.Shares {
		seen[s.Num] = true
	}
	for _, c := range v.Claimed {
		seen[c.Num] = true
	}
	return len(seen)
}

// Verified is the number of distinct share numbers verified (read).
func (v *Version) Verified() int {
	seen := map[int]bool{}
	for _, s := range v.Shares {
		seen[s.Num] = true
	}
	return len(seen)
}

// Recoverable reports whether at least k distinct shares are held.
func (v *Version) Recoverable() bool { return v.Distinct() >= v.ID.K }

// ServerNames lists the servers holding shares of v, without repeats.
func (v *Version) ServerNames() []string {
	var out []string
	for _, s := range v.Shares {
		if !slices.Contains(out, s.Server.Name) {
			out = append(out, s.Server.Name)
		}
	}
	return out
}

// Class says how a server's part of the update went wrong, if it did.
type Class string

// The classes of server failure.
const (
	OK           Class = ""
	Timeout      Class = "timeout"      // no answer before the deadline
	Refused      Class = "refused"      // connection refused or reset
	PinMismatch  Class = "tls-pin"      // TLS key does not match the NURL
	Unauthorized Class = "unauthorized" // 401: wrong swissnum
	Unreachable  Class = "unreachable"  // any other failure to connect
	CorruptShare Class = "corrupt"      // a share failed verification
	Failed       Class = "error"        // any other error
)

// ServerResult is how one server answered.
type ServerResult struct {
	ID, Name string
	Source   Source // nil if the server could not be used at all
	// Listed are the share numbers the server said it holds.
	Listed  []int
	Latency time.Duration // from the start of the update to its last answer
	Class   Class         // of Err; CorruptShare if only shares were bad
	Err     error         // the first failure talking to the server
	// Corrupt are the shares that failed verification, with why.
	Corrupt map[int]error
	// InProgress are the shares that do not verify because a streamed
	// write of a new version is under way (or was abandoned): their header
	// is provisional (mutable.IsProvisional). Anyone can write such a
	// header, so they are neither trusted nor counted against the server.
	InProgress []int
}

// newer orders versions newest first: higher seqnum, then higher root
// hash, as Tahoe does.
func compareVersions(a, b *Version) int {
	if c := cmp.Compare(b.ID.Seqnum, a.ID.Seqnum); c != 0 {
		return c
	}
	return bytes.Compare(b.ID.RootHash[:], a.ID.RootHash[:])
}

// summarize fills Best, Newer and Uncoordinated from Versions.
func (m *Map) summarize() {
	slices.SortFunc(m.Versions, compareVersions)
	for _, v := range m.Versions {
		slices.SortStableFunc(v.Shares, func(a, b *Share) int { return cmp.Compare(a.Num, b.Num) })
		if m.Best == nil && v.Recoverable() {
			m.Best = v
		}
	}
	for _, v := range m.Versions {
		if v == m.Best {
			break
		}
		m.Newer = append(m.Newer, v)
	}
	bySeq := map[uint64][]*Version{}
	for _, v := range m.Versions {
		if v.Recoverable() {
			bySeq[v.ID.Seqnum] = append(bySeq[v.ID.Seqnum], v)
		}
	}
	for _, v := range m.Versions {
		if vs := bySeq[v.ID.Seqnum]; len(vs) > 1 && vs[0] == v {
			m.Uncoordinated = append(m.Uncoordinated, vs)
		}
	}
}
