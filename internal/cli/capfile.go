package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// Caps on the command line can be read by every local user (ps, /proc),
// so every command that takes a cap also reads it from --cap-file FILE.
// A FILE holding a write cap must not be readable by group or others: it
// would be as exposed as the command line. Cap-file contents are never
// echoed in errors; a fault is named by file and line.

// capFileFlag is the flag's name on every command.
const capFileFlag = "cap-file"

// maxCapLine bounds one line of a cap file (a cap and a path below it).
const maxCapLine = 64 << 10

// readCapFile reads the one CAP[/PATH] target in path ("#" comment lines
// and blank lines aside). sync and the single-target commands use it.
func readCapFile(path string) (string, error) {
	targets, err := readCapList(path)
	if err != nil {
		return "", err
	}
	if len(targets) != 1 {
		return "", errkind.E("cli.readCapFile", errkind.Usage, "--cap-file %s holds %d caps; want exactly one", path, len(targets))
	}
	return targets[0], nil
}

// readCapList reads the CAP[/PATH] targets in path, one per line; blank
// lines and lines starting with "#" are skipped, and surrounding space is
// trimmed. Every target must parse. A write cap in a file that group or
// others may read is refused (except on Windows, whose permissions are
// not mode bits).
func readCapList(path string) ([]string, error) {
	const op = "cli.readCapList"
	f, err := os.Open(path)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, "--cap-file %s", fileError(err))
	}
	defer f.Close()
	targets, write, err := scanCapLines(path, f)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, errkind.E(op, errkind.Other, err)
	}
	if perm := fi.Mode().Perm(); write && perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, errkind.E(op, errkind.Usage, "--cap-file %s holds a write cap and is readable by others (mode %04o); chmod 600 it", path, perm)
	}
	return targets, nil
}

// scanCapLines parses the lines of a cap file and reports whether any
// target is a write cap.
func scanCapLines(path string, f *os.File) (targets []string, write bool, err error) {
	const op = "cli.readCapList"
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), maxCapLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c, _, err := parseTarget(line)
		if err != nil { // the line may be a cap: not echoed
			return nil, false, errkind.E(op, errkind.Usage, "--cap-file %s:%d: not a CAP or CAP/PATH", path, n)
		}
		write = write || !c.IsReadOnly()
		targets = append(targets, line)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d bytes", maxCapLine)
		}
		return nil, false, errkind.E(op, errkind.Usage, "--cap-file %s: %v", path, err)
	}
	return targets, write, nil
}

// fileError says in words why a file could not be opened.
func fileError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

// capFileCommands are the commands that take one target, and where
// --cap-file's target goes among their arguments.
var capFileCommands = map[string]func(args []string, target string) []string{
	"cat":    prependTarget,
	"ls":     prependTarget,
	"status": prependTarget,
	"rm":     prependTarget,
	"mkdir":  prependTarget,
	"put":    putTarget,
}

func prependTarget(args []string, target string) []string {
	return append([]string{target}, args...)
}

// putTarget places a CAP before FILE (replace) and a DIRCAP/PATH after it
// (link), the two forms put takes.
func putTarget(args []string, target string) []string {
	if !strings.Contains(target, "/") || len(args) == 0 {
		return prependTarget(args, target)
	}
	return append(append([]string{}, args...), target)
}

// addCapFiles gives each command of capFileCommands a --cap-file flag. The
// target is added to the arguments when the command runs, after the
// config file and environment were applied; the command's own argument
// check then runs on the result. Call it before wrapArgs.
func addCapFiles(root *cobra.Command) {
	for _, c := range root.Commands() {
		if insert, ok := capFileCommands[c.Name()]; ok {
			addCapFile(c, insert)
		}
	}
}

func addCapFile(c *cobra.Command, insert func([]string, string) []string) {
	var file string
	c.Flags().StringVar(&file, capFileFlag, "", "read the target CAP[/PATH] from `FILE` instead of the command line (ps shows arguments)")
	c.Long += `

With --cap-file FILE the target CAP[/PATH] is read from FILE (one line;
blank and # lines are skipped) instead of the command line, where ps shows
it to every local user. A FILE holding a write cap must not be readable by
group or others (chmod 600).`
	check, run := c.Args, c.RunE
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if file != "" {
			target, err := readCapFile(file)
			if err != nil {
				return err
			}
			args = insert(args, target)
		}
		if check != nil {
			if err := check(cmd, args); err != nil && file != "" {
				return &usageError{fmt.Errorf("%v, counting the target read from --cap-file %s (give it in one place)", err, file)}
			} else if err != nil {
				return &usageError{err}
			}
		}
		return run(cmd, args)
	}
}
