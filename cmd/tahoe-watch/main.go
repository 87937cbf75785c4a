// Command tahoe-watch watches mutable files and directories on a
// Tahoe-LAFS grid and reacts the moment they change.
package main

import (
	"os"

	"github.com/tahoe-watch/tahoe-watch/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
