package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Build information, stamped by the release build with -ldflags -X. A
// plain "go build" or "go install" leaves them unset; versionInfo then
// reads the module version and VCS stamp Go embeds in every binary.
var (
	Version = "dev"
	Commit  = "none"
	Date    = "unknown"
)

// buildInfo is what "version" and "--version" print.
type buildInfo struct {
	version, commit, date string
	modified              bool
}

// versionInfo merges the -ldflags stamp with runtime/debug.BuildInfo:
// the module version ("(devel)" for a build in a checkout) and the
// vcs.revision, vcs.time and vcs.modified settings.
func versionInfo() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return mergeBuildInfo(buildInfo{version: Version, commit: Commit, date: Date}, bi)
}

// mergeBuildInfo fills what the stamp b leaves unset from bi (may be nil).
func mergeBuildInfo(b buildInfo, bi *debug.BuildInfo) buildInfo {
	if bi == nil {
		return b
	}
	if b.version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && b.commit == "none":
			b.commit = s.Value
		case s.Key == "vcs.time" && b.date == "unknown":
			b.date = s.Value
		case s.Key == "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}

// String is the one-line version.
func (b buildInfo) String() string {
	commit := b.commit
	if b.modified {
		commit += ", modified"
	}
	return fmt.Sprintf("tahoe-watch %s (commit %s, built %s, %s %s/%s)",
		b.version, commit, b.date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Long: `version prints tahoe-watch's version, the VCS commit it was built from
and the build date. Release builds stamp them; a "go build" or "go install"
reports the module version and the commit Go recorded in the binary.
"tahoe-watch --version" prints the same line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(s.Out, versionInfo())
			return err
		},
	}
}

// addVersionFlag gives root --version, printing the version line.
func addVersionFlag(root *cobra.Command) {
	root.Flags().Bool("version", false, "print the version line of \"tahoe-watch version\" and exit")
	root.Version = versionInfo().String()
	root.SetVersionTemplate("{{.Version}}\n")
}
