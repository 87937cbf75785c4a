package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/retrieve"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
)

// lsOptions are the flags of "tahoe-watch ls".
type lsOptions struct {
	readOptions
	long, recursive, json bool
	target                string
	out                   io.Writer
}

func newLsCommand(s Streams) *cobra.Command {
	opts := &lsOptions{out: s.Out}
	opts.warnOut = s.Err
	cmd := &cobra.Command{
		Use:   "ls [-l] [-R] [--json] DIRCAP[/PATH]",
		Short: "List a directory on the grid",
		Long: `ls lists the entries of a directory: SDMF or MDMF (mutable) or CHK/LIT
(immutable). DIRCAP/PATH lists the subdirectory at PATH.

Without flags it prints one name per line. -l adds each entry's type,
size where the cap tells it, last link-change time and cap. -R lists
subdirectories too, each under a "PATH:" heading. --json prints one JSON
array of {"path", "name", "type", "cap", "rw_cap", "metadata"} objects
(rw_cap only with --show-writecaps).

Caps are shown read-only unless --show-writecaps is given and the
directory was reached through a write cap.

An entry that cannot be used (a name that is not UTF-8, is empty or
holds '/' or a control character, metadata that is not a JSON object, a
cap that does not parse) is left out with a warning on stderr; anyone
who can write a directory can store such an entry, and it hides nothing
else. "tahoe-watch rm DIRCAP/NAME" removes one whose name can be typed.`,
		Example: `  tahoe-watch ls URI:DIR2-RO:xxx:yyy
  tahoe-watch ls -l URI:DIR2:xxx:yyy/photos
  tahoe-watch ls -R --json --grid servers.yaml URI:DIR2-MDMF:xxx:yyy`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.target = args[0]
			return lsRun(cmd.Context(), opts)
		},
	}
	addReadFlags(cmd, &opts.readOptions)
	f := cmd.Flags()
	f.BoolVarP(&opts.long, "long", "l", false, "long listing: type, size, modification time and cap")
	f.BoolVarP(&opts.recursive, "recursive", "R", false, "list subdirectories recursively")
	f.BoolVar(&opts.json, "json", false, "print a JSON array")
	return cmd
}

// lsEntry is one listed entry, also its JSON form.
type lsEntry struct {
	Path     string          `json:"path"`
	Name     string          `json:"name"`
	Type     string          `json:"type"`
	Cap      string          `json:"cap"`
	RWCap    string          `json:"rw_cap,omitempty"`
	Metadata json.RawMessage `json:"metadata"`
	child    cap.Cap
}

// lsRun resolves the directory and lists it.
func lsRun(ctx context.Context, opts *lsOptions) error {
	r, c, err := opts.open(ctx, opts.target)
	if err != nil {
		return err
	}
	defer r.Close()
	if !c.IsDir() {
		return errkind.E("ls", errkind.Usage, "%s is not a directory (use tahoe-watch cat)", cap.Scrub(opts.target))
	}
	var all []lsEntry
	seen := map[string]bool{}
	err = opts.walk(ctx, r, c, "", seen, func(dir string, entries []lsEntry) error {
		if opts.json {
			all = append(all, entries...)
			return nil
		}
		return opts.print(dir, entries)
	})
	if err != nil {
		return err
	}
	if opts.json {
		if all == nil {
			all = []lsEntry{}
		}
		enc := json.NewEncoder(opts.out)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	return nil
}

// walk lists directory c (at path dir) and, with -R, its subdirectories,
// each once.
func (o *lsOptions) walk(ctx context.Context, r *retrieve.Reader, c cap.Cap, dir string, seen map[string]bool,
	emit func(string, []lsEntry) error) error {
	seen[string(c.StorageIndex())+c.Kind().String()] = true
	d, err := r.ReadDirAll(ctx, c)
	if err != nil {
		return err
	}
	warnUnusable(o.warnOut, dir, d.Unusable)
	listed := o.entries(dir, d.Entries)
	if err := emit(dir, listed); err != nil {
		return err
	}
	if !o.recursive {
		return nil
	}
	for _, e := range listed {
		if e.child == nil || !e.child.IsDir() || seen[string(e.child.StorageIndex())+e.child.Kind().String()] {
			continue
		}
		if err := o.walk(ctx, r, e.child, e.Path, seen, emit); err != nil {
			return err
		}
	}
	return nil
}

// entries turns directory entries into listed ones.
func (o *lsOptions) entries(dir string, entries []dirnode.Entry) []lsEntry {
	out := make([]lsEntry, 0, len(entries))
	for _, e := range entries {
		le := lsEntry{Path: joinPath(dir, e.Name), Name: e.Name, Type: "unknown", Cap: e.ROCap, Metadata: e.Metadata}
		if le.Metadata == nil {
			le.Metadata = json.RawMessage("{}")
		}
		if o.showWritecaps {
			le.RWCap = e.RWCap
		}
		if c, err := retrieve.ChildCap(e); err == nil {
			le.child = c
			le.Type = entryType(c)
			le.Cap = c.ReadOnly().String()
		}
		out = append(out, le)
	}
	return out
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func entryType(c cap.Cap) string {
	switch {
	case c.IsDir():
		return "dir"
	case c.IsMutable():
		return "file (mutable)"
	}
	return "file"
}

// print writes one directory's entries as text.
func (o *lsOptions) print(dir string, entries []lsEntry) error {
	w := o.out
	if o.recursive {
		heading := dir
		if heading == "" {
			heading = "."
		}
		if dir != "" {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s:\n", heading)
	}
	for _, e := range entries {
		if !o.long {
			fmt.Fprintln(w, e.Name)
			continue
		}
		shown := e.Cap
		if e.RWCap != "" {
			shown = e.RWCap
		}
		fmt.Fprintf(w, "%-14s %10s %16s  %s  %s\n", e.Type, size(e.child), mtime(e.Metadata), e.Name, shown)
	}
	return nil
}

// size is the size a cap states (immutable files), else "-".
func size(c cap.Cap) string {
	switch c := c.(type) {
	case *cap.CHK:
		if !c.Dir {
			return fmt.Sprint(c.Size)
		}
	case *cap.LIT:
		if !c.Dir {
			return fmt.Sprint(len(c.Data))
		}
	}
	return "-"
}

func mtime(md json.RawMessage) string {
	_, mo, ok := dirnode.LinkTimes(md)
	if !ok {
		return "-"
	}
	return mo.UTC().Format(time.DateTime)
}
