package grid

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// Announcement is the part of a storage server's announcement (as cached
// by a Tahoe node, or written in servers.yaml) that a client uses.
type Announcement struct {
	Nickname        string   // "nickname"
	StorageNURLs    []string // "anonymous-storage-NURLs"
	StorageFURL     string   // "anonymous-storage-FURL"
	PermutationSeed string   // "permutation-seed-base32"
	WatchNURLs      []string // "anonymous-watch-NURLs" (tahoe-watch servers)
}

// ServerInfo describes one storage server of a grid.
type ServerInfo struct {
	ID              string       // the server's key, "v0-<base32>" for Tahoe servers
	Nickname        string       // from the announcement; may be empty
	NURLs           []*nurl.NURL // HTTP storage endpoints, in announced order
	WatchNURLs      []*nurl.NURL // watch-protocol endpoints
	FURL            string       // the Foolscap storage fURL, if announced
	TubID           []byte       // 20-byte tub id from FURL; nil without one
	PermutationSeed []byte       // the server's position key on the permuted ring
	Unreachable     string       // why the server cannot be used over HTTP; "" if it can
}

// idTag domain-separates the write-enabler id of servers without a fURL.
const idTag = "tahoe-watch server id v1:"

// WriteEnablerID returns the 20-byte server id from which write enablers
// and lease secrets are derived: Tahoe's rule is the tub id of the
// server's fURL, even over HTTP. For a server with no fURL it is the first
// 20 bytes of SHA-256(idTag || SPKI hash bytes of its first NURL); nil if
// the server has neither.
func (s *ServerInfo) WriteEnablerID() []byte {
	if s.TubID != nil {
		return s.TubID
	}
	if len(s.NURLs) == 0 {
		return nil
	}
	spki, err := base64.RawURLEncoding.DecodeString(s.NURLs[0].SPKIHash)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(append([]byte(idTag), spki...))
	return sum[:20]
}

// Name is how messages name the server: its nickname and short id.
func (s *ServerInfo) Name() string {
	short := s.ID
	if len(short) > 11 {
		short = short[:11]
	}
	if s.Nickname == "" {
		return short
	}
	return s.Nickname + " (" + short + ")"
}

// Client returns a client for the server's first NURL, dialing as
// fallbacks its other location hints and those of any further NURL with
// the same key and swissnum; or an Unreachable error.
func (s *ServerInfo) Client(o *Options) (*Client, error) {
	if s.Unreachable != "" || len(s.NURLs) == 0 {
		return nil, errkind.E("grid.Client", errkind.Unreachable, "server %s: %s", s.Name(), s.Unreachable)
	}
	opts := Options{}
	if o != nil {
		opts = *o
	}
	if opts.Name == "" {
		opts.Name = s.Name()
	}
	return New(mergeHints(s.NURLs), &opts), nil
}

// mergeHints returns the first NURL with the location hints of every
// other NURL that names the same key and swissnum appended.
func mergeHints(ns []*nurl.NURL) *nurl.NURL {
	first := *ns[0]
	first.Hints = append([]string{}, first.Hints...)
	for _, n := range ns[1:] {
		if n.SPKIHash != first.SPKIHash || n.Swissnum != first.Swissnum {
			continue
		}
		for _, h := range n.Hints {
			if !slices.Contains(first.Hints, h) {
				first.Hints = append(first.Hints, h)
			}
		}
	}
	return &first
}

// FromAnnouncement builds the ServerInfo of server id from its
// announcement. A server that announces no usable NURL is returned with
// Unreachable set; only malformed identity fields are errors.
func FromAnnouncement(id string, a Announcement) (*ServerInfo, error) {
	const op = "grid.FromAnnouncement"
	s := &ServerInfo{ID: id, Nickname: a.Nickname, FURL: a.StorageFURL}
	if a.StorageFURL != "" {
		tub, err := nurl.FURLTubID(a.StorageFURL)
		if err != nil {
			return nil, errkind.E(op, errkind.Invalid, "server %s: %w", id, err)
		}
		s.TubID = tub
	}
	var bad []string
	s.NURLs, bad = parseNURLs(a.StorageNURLs)
	s.WatchNURLs, _ = parseNURLs(a.WatchNURLs)
	seed, err := permutationSeed(id, a.PermutationSeed, s.NURLs)
	if err != nil {
		return nil, errkind.E(op, errkind.Invalid, "server %s: %w", id, err)
	}
	s.PermutationSeed = seed
	switch {
	case len(s.NURLs) > 0:
	case len(bad) > 0:
		s.Unreachable = "its storage NURLs are malformed: " + bad[0]
	case a.StorageFURL != "":
		s.Unreachable = "it announces only a Foolscap fURL; tahoe-watch speaks only the HTTP storage protocol"
	default:
		s.Unreachable = "it announces no storage endpoint"
	}
	return s, nil
}

func parseNURLs(ss []string) ([]*nurl.NURL, []string) {
	var ok []*nurl.NURL
	var bad []string
	for _, s := range ss {
		n, err := nurl.Parse(s)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		ok = append(ok, n)
	}
	return ok, bad
}

// permutationSeed follows Tahoe: the announced seed, else the public key
// in a "v0-" server id, else (tahoe-watch's rule) the SPKI hash of the
// first NURL, else SHA-256 of the id.
func permutationSeed(id, announced string, nurls []*nurl.NURL) ([]byte, error) {
	if announced != "" {
		b, err := base32.Decode(announced)
		if err != nil {
			return nil, fmt.Errorf("permutation-seed-base32: %w", err)
		}
		return b, nil
	}
	if len(id) == 3+52 && id[:3] == "v0-" {
		if b, err := base32.Decode(id[3:]); err == nil {
			return b, nil
		}
	}
	if len(nurls) > 0 {
		if b, err := base64.RawURLEncoding.DecodeString(nurls[0].SPKIHash); err == nil {
			return b, nil
		}
	}
	sum := sha256.Sum256([]byte(id))
	return sum[:], nil
}

// FromNURL builds the ServerInfo of a server known only by its NURL. Its
// ID is "spki-" followed by the NURL's SPKI hash; its permutation seed is
// the SPKI hash's bytes.
func FromNURL(n *nurl.NURL) *ServerInfo {
	s := &ServerInfo{ID: "spki-" + n.SPKIHash, NURLs: []*nurl.NURL{n}}
	s.PermutationSeed, _ = permutationSeed("", "", s.NURLs)
	return s
}

// SPKIHash returns the SPKI hash of the server's first NURL, or "".
func (s *ServerInfo) SPKIHash() string {
	if len(s.NURLs) == 0 {
		return ""
	}
	return s.NURLs[0].SPKIHash
}

// Grid is the set of storage servers a client knows.
type Grid struct {
	Servers []*ServerInfo // sorted by ID
}

// NewGrid returns a grid of the given servers, sorted by ID. Later servers
// with an ID already seen are dropped.
func NewGrid(servers []*ServerInfo) *Grid {
	seen := map[string]bool{}
	g := &Grid{}
	for _, s := range servers {
		if !seen[s.ID] {
			seen[s.ID] = true
			g.Servers = append(g.Servers, s)
		}
	}
	sort.Slice(g.Servers, func(i, j int) bool { return g.Servers[i].ID < g.Servers[j].ID })
	return g
}

// Lookup returns the server with the given ID, or nil.
func (g *Grid) Lookup(id string) *ServerInfo {
	for _, s := range g.Servers {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// LookupSPKI returns the first server whose NURLs pin spkiHash, or nil.
func (g *Grid) LookupSPKI(spkiHash string) *ServerInfo {
	for _, s := range g.Servers {
		for _, n := range s.NURLs {
			if n.SPKIHash == spkiHash {
				return s
			}
		}
	}
	return nil
}

// Reachable returns the servers usable over HTTP.
func (g *Grid) Reachable() []*ServerInfo {
	var out []*ServerInfo
	for _, s := range g.Servers {
		if s.Unreachable == "" {
			out = append(out, s)
		}
	}
	return out
}

// Permuted returns the HTTP-reachable servers in Tahoe's permuted order for
// storage index si: ascending SHA-1(si || permutation seed), ties broken by
// ID.
func (g *Grid) Permuted(si []byte) []*ServerInfo {
	servers := g.Reachable()
	keys := make(map[*ServerInfo][]byte, len(servers))
	for _, s := range servers {
		keys[s] = hashes.PermuteServer(si, s.PermutationSeed)
	}
	sort.SliceStable(servers, func(i, j int) bool {
		if c := bytes.Compare(keys[servers[i]], keys[servers[j]]); c != 0 {
			return c < 0
		}
		return servers[i].ID < servers[j].ID
	})
	return servers
}
