package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/tahoe-watch/tahoe-watch/internal/gridconfig"
)

// gridOptions are the flags that say which grid a command talks to. Embed
// them in a command's options, register them with addGridFlags and call
// load in the run function.
type gridOptions struct {
	servers      []string
	watchServers []string
	gridFile     string
	nodeDir      string

	getenv func(string) string // for tests; nil means os.Getenv
	home   string              // for tests; "" means the user's home
	warn   func() io.Writer    // where warnings go; nil for none
}

// addGridFlags registers --server, --watch-server, --grid and --node-dir on cmd.
func addGridFlags(cmd *cobra.Command, o *gridOptions) {
	o.warn = cmd.ErrOrStderr
	f := cmd.Flags()
	f.StringArrayVar(&o.servers, "server", nil,
		"storage server `NURL` (repeatable); overrides --grid and --node-dir, which then only describe these servers")
	f.StringArrayVar(&o.watchServers, "watch-server", nil,
		"watch endpoint `NURL` (repeatable), paired with the storage server of the same SPKI hash")
	f.StringVar(&o.gridFile, "grid", "",
		"grid `FILE` in the schema of a Tahoe node's private/servers.yaml (default $"+gridconfig.EnvGrid+" if no node dir)")
	f.StringVar(&o.nodeDir, "node-dir", "",
		"Tahoe node `DIR` to take servers, encoding and convergence secret from (default $"+gridconfig.EnvNodeDir+", then ~/.tahoe)")
}

// load resolves the flags, environment and node directory into a grid.
//
// One rule: the servers come from the first of --server, --grid and the
// node directory (--node-dir, $TAHOE_WATCH_NODE_DIR, ~/.tahoe); a
// --node-dir given on the command line always supplies the encoding and
// the convergence secret, whichever source gave the servers, so that a
// CHK gets the same cap as the node would give it. When --grid wins over
// --node-dir, a warning says the node's servers are not used.
func (o *gridOptions) load(ctx context.Context) (*gridconfig.Config, error) {
	cfg, err := gridconfig.Load(ctx, gridconfig.Sources{
		Servers:      o.servers,
		WatchServers: o.watchServers,
		GridFile:     o.gridFile,
		NodeDir:      o.nodeDir,
		Getenv:       o.getenv,
		Home:         o.home,
	})
	if err != nil || o.nodeDir == "" || cfg.Convergence != nil {
		return cfg, err
	}
	node, err := gridconfig.LoadNodeDir(ctx, o.nodeDir)
	if err != nil {
		return nil, err
	}
	cfg.Encoding, cfg.Convergence = node.Encoding, node.Convergence
	if len(o.servers) == 0 && o.warn != nil {
		fmt.Fprintf(o.warn(), "tahoe-watch: warning: --node-dir %s: using its encoding and convergence secret but not its servers: --grid %s gives them\n",
			o.nodeDir, o.gridFile)
	}
	return cfg, nil
}
