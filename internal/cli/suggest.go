package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// checkCommandTypo turns a first argument that is not a cap but is close
// to a command name ("stauts") into "unknown command", instead of letting
// the watcher call it a malformed cap.
func checkCommandTypo(root *cobra.Command, args []string) error {
	if len(args) == 0 || strings.Contains(args[0], ":") {
		return nil // caps have colons; command names do not
	}
	root.SuggestionsMinimumDistance = 2
	hints := root.SuggestionsFor(args[0])
	if len(hints) == 0 {
		if strings.Contains(args[0], "/") {
			return nil // CAP/PATH without a cap: cap.Parse says so
		}
		return &usageError{fmt.Errorf("unknown command %q, and not a cap", args[0])}
	}
	return &usageError{fmt.Errorf("unknown command %q; did you mean %s?", args[0], strings.Join(hints, " or "))}
}
