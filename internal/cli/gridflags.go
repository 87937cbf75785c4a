package cli

import (
	"context"

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
}

// addGridFlags registers --server, --watch-server, --grid and --node-dir on cmd.
func addGridFlags(cmd *cobra.Command, o *gridOptions) {
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
func (o *gridOptions) load(ctx context.Context) (*gridconfig.Config, error) {
	return gridconfig.Load(ctx, gridconfig.Sources{
		Servers:      o.servers,
		WatchServers: o.watchServers,
		GridFile:     o.gridFile,
		NodeDir:      o.nodeDir,
		Getenv:       o.getenv,
		Home:         o.home,
	})
}
