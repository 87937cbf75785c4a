package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// Build information, stamped by the release build with -ldflags -X.
var (
	Version = "dev"
	Commit  = "none"
	Date    = "unknown"
)

func newVersionCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(s.Out, "tahoe-watch %s (commit %s, built %s, %s %s/%s)\n",
				Version, Commit, Date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
