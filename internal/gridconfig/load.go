package gridconfig

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// Environment variables consulted by Load.
const (
	EnvNodeDir = "TAHOE_WATCH_NODE_DIR" // default node directory
	EnvGrid    = "TAHOE_WATCH_GRID"     // grid file used when nothing else is given
)

// Sources are where a command was told to find its grid, highest
// precedence first.
type Sources struct {
	Servers      []string // --server NURLs
	WatchServers []string // --watch-server NURLs, paired with servers by SPKI hash
	GridFile     string   // --grid
	NodeDir      string   // --node-dir; "" means $TAHOE_WATCH_NODE_DIR, then ~/.tahoe if it exists

	Getenv func(string) string // defaults to os.Getenv
	Home   string              // home directory; defaults to os.UserHomeDir
}

// Config is a loaded grid configuration.
type Config struct {
	Grid        *grid.Grid
	Encoding    Encoding // from tahoe.cfg, else Tahoe's default
	Convergence []byte   // the node's convergence secret; nil unless a node dir was used
	Source      string   // where the servers came from, for messages
}

// Load resolves s: --server NURLs win, then --grid, then the node
// directory, then $TAHOE_WATCH_GRID. With --server, an explicit --grid
// or --node-dir still supplies what NURLs cannot (ids, nicknames, fURL
// tub ids, permutation seeds) for servers with the same SPKI hash, and a
// node dir still supplies the encoding and convergence secret.
func Load(ctx context.Context, s Sources) (*Config, error) {
	const op = "gridconfig.Load"
	if err := ctx.Err(); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if len(s.Servers) > 0 {
		return loadServers(ctx, s)
	}
	if s.GridFile != "" {
		return withWatch(LoadGridFile(ctx, s.GridFile))(s.WatchServers)
	}
	if dir := nodeDir(s, getenv); dir != "" {
		return withWatch(LoadNodeDir(ctx, dir))(s.WatchServers)
	}
	if f := getenv(EnvGrid); f != "" {
		return withWatch(LoadGridFile(ctx, f))(s.WatchServers)
	}
	return nil, errkind.E(op, errkind.Usage,
		"no storage servers: give --server NURL, --grid FILE or --node-dir DIR, or set $%s or $%s", EnvNodeDir, EnvGrid)
}

// nodeDir picks the node directory: the flag, then $TAHOE_WATCH_NODE_DIR,
// then ~/.tahoe if it exists.
func nodeDir(s Sources, getenv func(string) string) string {
	if s.NodeDir != "" {
		return s.NodeDir
	}
	if d := getenv(EnvNodeDir); d != "" {
		return d
	}
	home := s.Home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return ""
	}
	d := filepath.Join(home, ".tahoe")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}

func withWatch(c *Config, err error) func([]string) (*Config, error) {
	return func(watch []string) (*Config, error) {
		if err != nil {
			return nil, err
		}
		return c, pairWatch(c.Grid, watch)
	}
}

// pairWatch adds each watch NURL to the server with the same SPKI hash.
func pairWatch(g *grid.Grid, watch []string) error {
	for _, w := range watch {
		n, err := nurl.Parse(w)
		if err != nil {
			return errkind.E("gridconfig.Load", errkind.Usage, "--watch-server: %w", err)
		}
		s := g.LookupSPKI(n.SPKIHash)
		if s == nil {
			return errkind.E("gridconfig.Load", errkind.Usage,
				"--watch-server %s: no storage server has SPKI hash %s", n.Redacted(), n.SPKIHash)
		}
		s.WatchNURLs = append(s.WatchNURLs, n)
	}
	return nil
}

// loadServers builds the grid from --server NURLs.
func loadServers(ctx context.Context, s Sources) (*Config, error) {
	const op = "gridconfig.Load"
	var known *Config
	var err error
	switch {
	case s.GridFile != "":
		known, err = LoadGridFile(ctx, s.GridFile)
	case s.NodeDir != "":
		known, err = LoadNodeDir(ctx, s.NodeDir)
	}
	if err != nil {
		return nil, err
	}
	c := &Config{Encoding: DefaultEncoding, Source: "--server"}
	if known != nil {
		c.Encoding, c.Convergence = known.Encoding, known.Convergence
	}
	var servers []*grid.ServerInfo
	for _, arg := range s.Servers {
		n, err := nurl.Parse(arg)
		if err != nil {
			return nil, errkind.E(op, errkind.Usage, "--server: %w", err)
		}
		servers = append(servers, serverFor(n, known))
	}
	c.Grid = grid.NewGrid(servers)
	if len(c.Grid.Servers) != len(servers) {
		return nil, errkind.E(op, errkind.Usage, "--server: the same server is given twice")
	}
	return c, pairWatch(c.Grid, s.WatchServers)
}

// serverFor describes the server n names, borrowing what a loaded grid
// knows about the server with the same SPKI hash.
func serverFor(n *nurl.NURL, known *Config) *grid.ServerInfo {
	if known != nil {
		if k := known.Grid.LookupSPKI(n.SPKIHash); k != nil {
			s := *k
			s.NURLs = []*nurl.NURL{n}
			s.Unreachable = ""
			return &s
		}
	}
	return grid.FromNURL(n)
}

// LoadGridFile loads a grid file (servers.yaml schema).
func LoadGridFile(ctx context.Context, path string) (*Config, error) {
	if err := ctx.Err(); err != nil {
		return nil, errkind.E("gridconfig.LoadGridFile", errkind.Other, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errkind.E("gridconfig.LoadGridFile", errkind.Usage, err)
	}
	servers, err := ParseServersYAML(path, data)
	if err != nil {
		return nil, err
	}
	if len(servers) == 0 {
		return nil, errkind.E("gridconfig.LoadGridFile", errkind.Usage, "%s lists no storage servers", path)
	}
	return &Config{Grid: grid.NewGrid(servers), Encoding: DefaultEncoding, Source: "grid file " + path}, nil
}

// LoadNodeDir loads a Tahoe node directory: private/servers.yaml (static
// servers, which win over announcements), every
// private/introducer_*_cache.yaml (in name order; the first announcement
// of a server wins), tahoe.cfg's [client] shares.* and private/convergence.
func LoadNodeDir(ctx context.Context, dir string) (*Config, error) {
	const op = "gridconfig.LoadNodeDir"
	if err := ctx.Err(); err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, errkind.E(op, errkind.Usage, "node directory %s does not exist", dir)
	}
	c := &Config{Encoding: DefaultEncoding, Source: "node directory " + dir}
	servers, err := nodeServers(dir)
	if err != nil {
		return nil, err
	}
	if len(servers) == 0 {
		return nil, errkind.E(op, errkind.Usage, "node directory %s knows no storage servers (no private/servers.yaml or introducer caches)", dir)
	}
	c.Grid = grid.NewGrid(servers)
	if c.Encoding, err = nodeEncoding(dir); err != nil {
		return nil, err
	}
	if c.Convergence, err = nodeConvergence(dir); err != nil {
		return nil, err
	}
	return c, nil
}

func nodeServers(dir string) ([]*grid.ServerInfo, error) {
	var servers []*grid.ServerInfo
	static := filepath.Join(dir, "private", "servers.yaml")
	if data, err := readOptional(static); err != nil {
		return nil, err
	} else if data != nil {
		if servers, err = ParseServersYAML(static, data); err != nil {
			return nil, err
		}
	}
	caches, _ := filepath.Glob(filepath.Join(dir, "private", "introducer_*_cache.yaml"))
	sort.Strings(caches)
	for _, f := range caches {
		data, err := readOptional(f)
		if err != nil {
			return nil, err
		}
		got, err := ParseAnnouncementCache(f, data)
		if err != nil {
			return nil, err
		}
		servers = append(servers, got...) // NewGrid keeps the first of each id
	}
	return servers, nil
}

func nodeEncoding(dir string) (Encoding, error) {
	f := filepath.Join(dir, "tahoe.cfg")
	data, err := readOptional(f)
	if err != nil || data == nil {
		return DefaultEncoding, err
	}
	cfg, err := ParseTahoeCfg(f, data)
	if err != nil {
		return DefaultEncoding, err
	}
	return EncodingFrom(cfg)
}

func nodeConvergence(dir string) ([]byte, error) {
	f := filepath.Join(dir, "private", "convergence")
	data, err := readOptional(f)
	if err != nil || data == nil {
		return nil, err
	}
	b, err := base32.DecodeLen(strings.TrimSpace(string(data)), 32)
	if err != nil {
		return nil, errkind.E("gridconfig.LoadNodeDir", errkind.Usage, "%s: %v", f, err)
	}
	return b, nil
}

// readOptional reads a file, returning nil data if it does not exist.
func readOptional(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errkind.E("gridconfig", errkind.Usage, err)
	}
	return data, nil
}
