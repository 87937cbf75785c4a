// Package cli builds tahoe-watch's command tree and maps errors to exit
// codes. Each command lives in its own file as an options struct, a
// constructor that builds the cobra command, and a run function taking a
// context and the options.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/hook"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// Exit codes, documented in the README. They are a contract with scripts.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // not found, unrecoverable, unreachable, or any other failure
	ExitUsage   = 2 // bad flags, arguments or input
)

// Streams are the standard streams a command uses; tests inject buffers.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// StdStreams returns the process's standard streams.
func StdStreams() Streams { return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// Main runs tahoe-watch with args and returns the process exit code.
// SIGINT and SIGTERM cancel the context every command runs under.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, StdStreams(), args)
}

// Run executes one command line with the given streams.
func Run(ctx context.Context, s Streams, args []string) int {
	root := NewRootCommand(s)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	// Scrub: the message may quote an argument the user typed, a write cap.
	userLine(s.Err, jsonLogs(cmd), slog.LevelError, cap.Scrub(errorText(cmd, err)))
	return ExitCode(err)
}

// jsonLogs reports whether cmd was asked for --log-format json.
func jsonLogs(cmd *cobra.Command) bool {
	if cmd == nil || cmd.Flags().Lookup("log-format") == nil {
		return false
	}
	v, _ := cmd.Flags().GetString("log-format")
	return v == "json"
}

// userLine writes a line for the user on stderr: "tahoe-watch: TEXT"
// ("tahoe-watch: warning: TEXT" at warn level), or, for a command logging
// JSON, a record like its log's, so that every line of stderr parses.
func userLine(w io.Writer, json bool, level slog.Level, text string) {
	if json {
		_ = slog.New(slog.NewJSONHandler(w, nil)).Handler().Handle(context.Background(),
			slog.NewRecord(time.Now(), level, text, 0))
		return
	}
	if level == slog.LevelWarn {
		text = "warning: " + text
	}
	fmt.Fprintf(w, "tahoe-watch: %s\n", text)
}

// errorText is the error line: in words (errkind.Message), or with the
// operation names that tell a developer where it failed when the command
// was asked for detail (-v, --debug, --log-level debug).
func errorText(cmd *cobra.Command, err error) string {
	if cmd != nil {
		f := cmd.Flags()
		for _, name := range []string{"verbose", "debug"} {
			if v, _ := f.GetBool(name); v {
				return err.Error()
			}
		}
		if v, _ := f.GetString("log-level"); strings.EqualFold(v, "debug") {
			return err.Error()
		}
	}
	return errkind.Message(err)
}

// ExitCode maps an error to its documented exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var serr *hook.StatusError
	if errors.As(err, &serr) {
		return serr.Status // --once/--count pass the hook's status on
	}
	var uerr *usageError
	if errors.As(err, &uerr) || errkind.Is(err, errkind.Usage) {
		return ExitUsage
	}
	return ExitFailure
}

// usageError marks flag and argument errors cobra reports.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() + " (see --help)" }
func (e *usageError) Unwrap() error { return e.err }

// NewRootCommand builds the command tree. Every command is registered here.
func NewRootCommand(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "tahoe-watch",
		Short: "Watch Tahoe-LAFS mutable files and directories and react when they change",
		Long: `tahoe-watch watches mutable files and directories on a Tahoe-LAFS grid and
reacts the moment they change: storage servers push change notices over a
WebSocket instead of clients polling.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError(err) })
	root.AddCommand(
		newVersionCommand(s),
		newServeCommand(s),
		newNotifierCommand(s),
		newGenManCommand(s),
		newStatusCommand(s),
		newCatCommand(s),
		newLsCommand(s),
		newTuiCommand(s),
		newSyncCommand(s),
		newPutCommand(s),
		newMkdirCommand(s),
		newRmCommand(s),
		newDemoCommand(s),
	)
	addCapFiles(root)
	addVersionFlag(root)
	addWatchRoot(root, s)
	useConfig(root)
	wrapArgs(root)
	addCompletions(root)
	return root
}

// wrapArgs makes every command's argument validation errors usage errors.
func wrapArgs(c *cobra.Command) {
	if v := c.Args; v != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := v(cmd, args); err != nil {
				return &usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}
