package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// statusOptions are the flags of "tahoe-watch status".
type statusOptions struct {
	readOptions
	json   bool
	target string
	out    io.Writer
}

func newStatusCommand(s Streams) *cobra.Command {
	opts := &statusOptions{out: s.Out}
	cmd := &cobra.Command{
		Use:   "status [--json] CAP[/PATH]",
		Short: "Show which versions of a file the grid holds, and how each server answered",
		Long: `status asks every server of the grid which shares it holds for a file,
verifies each share's signed header, and reports:

  - the best version: the newest one with enough shares to read,
  - newer versions that cannot be read (yet): a write in progress or one
    that reached too few servers,
  - uncoordinated writes: two readable versions with one sequence number,
  - every server: its shares, how long it took, and what went wrong
    (timeout, refused, tls-pin, unauthorized, corrupt, unreachable, error).

CAP may be a write, read or verify cap; CAP/PATH names an entry below a
directory. For immutable files it lists the shares each server holds.
--json prints the schema documented in docs/status-json.md.

The exit status is 0 when a version is recoverable, 1 otherwise.`,
		Example: `  tahoe-watch status URI:SSK-Verifier:xxx:yyy
  tahoe-watch status --json --grid servers.yaml URI:DIR2-MDMF:xxx:yyy | jq .best.seqnum`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target = args[0]
			return statusRun(cmd.Context(), opts)
		},
	}
	addReadFlags(cmd, &opts.readOptions)
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON (schema: docs/status-json.md)")
	return cmd
}

// statusRun maps the target and prints the report.
func statusRun(ctx context.Context, opts *statusOptions) error {
	r, c, err := opts.open(ctx, opts.target)
	if err != nil {
		return err
	}
	defer r.Close()
	st, err := buildStatus(ctx, r, c)
	if err != nil {
		return err
	}
	if opts.json {
		enc := json.NewEncoder(opts.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return errkind.E("status", errkind.Other, err)
		}
	} else {
		st.print(opts.out, opts.debug)
	}
	if !st.Recoverable {
		return errkind.E("status", st.failKind, st.failErr)
	}
	return nil
}

// statusJSON is the document docs/status-json.md describes.
type statusJSON struct {
	Schema        string         `json:"schema"`
	Cap           string         `json:"cap_kind"`
	StorageIndex  string         `json:"storage_index"`
	Mutable       bool           `json:"mutable"`
	Recoverable   bool           `json:"recoverable"`
	Best          *versionJSON   `json:"best"`
	Versions      []*versionJSON `json:"versions"`
	Newer         []*versionJSON `json:"newer"`
	Uncoordinated []ucwJSON      `json:"uncoordinated"`
	Servers       []serverJSON   `json:"servers"`
	K             int            `json:"k,omitempty"`
	N             int            `json:"n,omitempty"`
	failKind      errkind.Kind   `json:"-"`
	failErr       error          `json:"-"` // why it is not recoverable; errkind.Message drops its op names
	byVersion     map[*mapupdate.Version]*versionJSON
}

type versionJSON struct {
	Seqnum         uint64      `json:"seqnum"`
	RootHash       string      `json:"roothash"`
	Format         string      `json:"format"`
	K              int         `json:"k"`
	N              int         `json:"n"`
	SegmentSize    int64       `json:"segment_size"`
	DataLength     int64       `json:"data_length"`
	Salt           string      `json:"salt,omitempty"`
	DistinctShares int         `json:"distinct_shares"`
	Recoverable    bool        `json:"recoverable"`
	Shares         []shareJSON `json:"shares"`
}

type shareJSON struct {
	Shnum  int    `json:"shnum"`
	Server string `json:"server"`
}

type ucwJSON struct {
	Seqnum     uint64   `json:"seqnum"`
	RootHashes []string `json:"roothashes"`
}

type serverJSON struct {
	ID            string        `json:"id"`
	Name          string        `json:"name"`
	Shares        []int         `json:"shares"`
	LatencyMS     float64       `json:"latency_ms"`
	ErrorClass    string        `json:"error_class,omitempty"`
	Error         string        `json:"error,omitempty"`
	CorruptShares []corruptJSON `json:"corrupt_shares,omitempty"`
}

type corruptJSON struct {
	Shnum  int    `json:"shnum"`
	Reason string `json:"reason"`
}

// buildStatus maps c and converts the result.
func buildStatus(ctx context.Context, r *retrieve.Reader, c cap.Cap) (*statusJSON, error) {
	st := &statusJSON{Schema: "tahoe-watch.status.v1", Cap: c.Kind().String(), Mutable: c.IsMutable(),
		Versions: []*versionJSON{}, Newer: []*versionJSON{}, Uncoordinated: []ucwJSON{}, Servers: []serverJSON{},
		byVersion: map[*mapupdate.Version]*versionJSON{}}
	switch c := c.(type) {
	case *cap.LIT:
		st.Recoverable = true
		return st, nil
	case *cap.CHK:
		return st.fromCHK(ctx, r, c), nil
	case *cap.Mutable:
		m, err := r.Map(ctx, c)
		if err != nil {
			return nil, err
		}
		return st.fromMap(m), nil
	}
	return nil, errkind.E("status", errkind.Usage, "cannot show the status of a %s cap", c.Kind())
}

func (st *statusJSON) fromMap(m *mapupdate.Map) *statusJSON {
	st.StorageIndex = cap.FormatSI(m.StorageIndex)
	for _, v := range m.Versions {
		vj := versionOf(v)
		st.byVersion[v] = vj
		st.Versions = append(st.Versions, vj)
	}
	if m.Best != nil {
		st.Best, st.Recoverable = st.byVersion[m.Best], true
	}
	for _, v := range m.Newer {
		st.Newer = append(st.Newer, st.byVersion[v])
	}
	for _, vs := range m.Uncoordinated {
		u := ucwJSON{Seqnum: vs[0].ID.Seqnum}
		for _, v := range vs {
			u.RootHashes = append(u.RootHashes, base32.Encode(v.ID.RootHash[:]))
		}
		st.Uncoordinated = append(st.Uncoordinated, u)
	}
	st.addServers(m.Servers)
	if _, err := retrieve.Recoverable(m); err != nil {
		st.failKind, st.failErr = errkind.KindOf(err), err
	}
	return st
}

func versionOf(v *mapupdate.Version) *versionJSON {
	vj := &versionJSON{Seqnum: v.ID.Seqnum, RootHash: base32.Encode(v.ID.RootHash[:]), Format: v.ID.Version.String(),
		K: v.ID.K, N: v.ID.N, SegmentSize: v.ID.SegmentSize, DataLength: v.ID.DataLength,
		DistinctShares: v.Distinct(), Recoverable: v.Recoverable(), Shares: []shareJSON{}}
	if v.ID.IV != [16]byte{} {
		vj.Salt = base32.Encode(v.ID.IV[:])
	}
	for _, s := range v.Shares {
		vj.Shares = append(vj.Shares, shareJSON{Shnum: s.Num, Server: s.Server.ID})
	}
	return vj
}

func (st *statusJSON) addServers(servers []*mapupdate.ServerResult) {
	for _, s := range servers {
		sj := serverJSON{ID: s.ID, Name: s.Name, Shares: s.Listed, LatencyMS: float64(s.Latency.Microseconds()) / 1000,
			ErrorClass: string(s.Class)}
		if sj.Shares == nil {
			sj.Shares = []int{}
		}
		if s.Err != nil {
			sj.Error = s.Err.Error()
		}
		for n, err := range s.Corrupt {
			sj.CorruptShares = append(sj.CorruptShares, corruptJSON{Shnum: n, Reason: mapupdate.Reason(err)})
		}
		st.Servers = append(st.Servers, sj)
	}
}

// fromCHK lists the immutable shares each server holds.
func (st *statusJSON) fromCHK(ctx context.Context, r *retrieve.Reader, c *cap.CHK) *statusJSON {
	st.StorageIndex, st.K, st.N = cap.FormatSI(c.SI), c.K, c.N
	servers, distinct := r.LocateImmutable(ctx, c.SI)
	st.addServers(servers)
	st.Recoverable = distinct >= c.K
	if !st.Recoverable {
		st.failKind = errkind.Unrecoverable
		st.failErr = fmt.Errorf("storage index %s: found %d of the %d shares needed", st.StorageIndex, distinct, c.K)
	}
	return st
}

// print writes the report as text.
func (st *statusJSON) print(w io.Writer, debug bool) {
	if st.StorageIndex == "" {
		fmt.Fprintf(w, "%s: a literal cap; the contents are in the cap, nothing is stored on servers\n", st.Cap)
		return
	}
	fmt.Fprintf(w, "storage index: %s (%s)\n", st.StorageIndex, st.Cap)
	if st.Mutable {
		st.printVersions(w)
	} else {
		fmt.Fprintf(w, "immutable, %d-of-%d: %s\n", st.K, st.N, map[bool]string{true: "recoverable", false: "NOT recoverable"}[st.Recoverable])
	}
	fmt.Fprintln(w, "servers:")
	for _, s := range st.Servers {
		state := "ok"
		if s.ErrorClass != "" {
			state = s.ErrorClass
			if debug && s.Error != "" {
				state += ": " + s.Error
			}
		}
		fmt.Fprintf(w, "  %-28s shares %-12s %8s  %s\n", s.Name, intList(s.Shares),
			(time.Duration(s.LatencyMS*1000) * time.Microsecond).Round(time.Millisecond/10), state)
		for _, c := range s.CorruptShares {
			fmt.Fprintf(w, "    corrupt share %d: %s\n", c.Shnum, c.Reason)
		}
	}
}

func (st *statusJSON) printVersions(w io.Writer) {
	if st.Best != nil {
		fmt.Fprintf(w, "best version: seqnum %d, %d-of-%d, %d shares, recoverable\n",
			st.Best.Seqnum, st.Best.K, st.Best.N, st.Best.DistinctShares)
	} else {
		fmt.Fprintln(w, "best version: none recoverable")
	}
	for _, v := range st.Newer {
		fmt.Fprintf(w, "newer version NOT recoverable: seqnum %d, %d of the %d shares needed\n", v.Seqnum, v.DistinctShares, v.K)
	}
	for _, u := range st.Uncoordinated {
		fmt.Fprintf(w, "UNCOORDINATED WRITE: seqnum %d has %d recoverable versions (roothashes %s)\n",
			u.Seqnum, len(u.RootHashes), strings.Join(u.RootHashes, ", "))
	}
	fmt.Fprintln(w, "versions:")
	for _, v := range st.Versions {
		var where []string
		for _, s := range v.Shares {
			where = append(where, fmt.Sprintf("%d@%.11s", s.Shnum, s.Server))
		}
		fmt.Fprintf(w, "  seqnum %d roothash %s %s %d-of-%d %d bytes: %s\n", v.Seqnum, v.RootHash, v.Format, v.K, v.N,
			v.DataLength, strings.Join(where, " "))
	}
}

func intList(ns []int) string {
	if len(ns) == 0 {
		return "-"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}
