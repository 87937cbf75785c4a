package demo

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/dirop"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
)

// Params are the encoding of the demo's files: 3-of-5, as Tahoe's default.
var Params = publish.Params{Format: cap.SDMF, K: 3, N: 5}

// Tree is the demo's directory on a grid and the writer that edits it.
type Tree struct {
	Root  *cap.Mutable            // write cap of the demo directory
	Files map[string]*cap.Mutable // write caps of its mutable files, by path

	pub     *publish.Publisher
	ed      *dirop.Editor
	clients *publish.Clients
	notes   []string // LIT notes linked under docs/, oldest first
	step    int
}

// Populate creates the demo directory on g:
//
//	README.txt  todo.txt  docs/notes.txt
func Populate(ctx context.Context, g *grid.Grid) (*Tree, error) {
	cl := &publish.Clients{}
	pub := &publish.Publisher{Grid: g, Dial: cl.Dial}
	t := &Tree{pub: pub, clients: cl, ed: &dirop.Editor{Pub: pub, New: Params}, Files: map[string]*cap.Mutable{}}
	root, err := t.ed.Mkdir(ctx)
	if err != nil {
		cl.Close()
		return nil, err
	}
	t.Root = root
	files := []struct{ path, text string }{
		{"README.txt", "Edit me from another terminal and watch tahoe-watch report it.\n"},
		{"todo.txt", "- try tahoe-watch\n"},
		{"docs/notes.txt", "notes\n"},
	}
	for _, f := range files {
		if err := t.addFile(ctx, f.path, f.text); err != nil {
			cl.Close()
			return nil, err
		}
	}
	return t, nil
}

// Close releases the tree's connections.
func (t *Tree) Close() { t.clients.Close() }

// addFile creates a mutable file and links it at path.
func (t *Tree) addFile(ctx context.Context, path, text string) error {
	key, err := rsakey.Generate()
	if err != nil {
		return errkind.E("demo.Populate", errkind.Other, err)
	}
	res, err := t.pub.Create(ctx, key, []byte(text), Params)
	if err != nil {
		return err
	}
	t.Files[path] = res.Cap
	return t.ed.Link(ctx, t.Root, strings.Split(path, "/"), dirop.ChildOf(res.Cap), true, false)
}

// Write runs the background writer until ctx is done: every interval it
// makes one change, in turn: appends to todo.txt, links a new note under
// docs/, rewrites docs/notes.txt, unlinks the oldest note.
func (t *Tree) Write(ctx context.Context, interval time.Duration, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		what, err := t.change(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Warn("demo writer", "err", err)
			continue
		}
		log.Debug("demo writer", "did", what)
	}
}

// change makes the next change of the cycle and says what it did.
func (t *Tree) change(ctx context.Context) (string, error) {
	t.step++
	switch t.step % 4 {
	case 1:
		return "append to todo.txt", t.modify(ctx, "todo.txt", func(b []byte) []byte {
			return fmt.Appendf(b, "- item %d\n", t.step)
		})
	case 2:
		name := fmt.Sprintf("note-%d.txt", t.step)
		lit := &cap.LIT{Data: fmt.Appendf(nil, "note %d\n", t.step)}
		t.notes = append(t.notes, name)
		return "link docs/" + name, t.ed.Link(ctx, t.Root, []string{"docs", name}, dirop.ChildOf(lit), false, true)
	case 3:
		return "rewrite docs/notes.txt", t.modify(ctx, "docs/notes.txt", func([]byte) []byte {
			return fmt.Appendf(nil, "notes, revision %d\n", t.step)
		})
	}
	if len(t.notes) < 2 {
		return "nothing", nil
	}
	name := t.notes[0]
	t.notes = t.notes[1:]
	return "unlink docs/" + name, t.ed.Unlink(ctx, t.Root, []string{"docs", name})
}

func (t *Tree) modify(ctx context.Context, path string, f func([]byte) []byte) error {
	_, err := t.pub.Modify(ctx, t.Files[path], func(old []byte) ([]byte, error) { return f(old), nil })
	return err
}

// WriteGridFile writes the grid's servers as a grid file (the schema of a
// Tahoe node's private/servers.yaml) and returns its path.
func (g *Grid) WriteGridFile() (string, error) {
	var b strings.Builder
	b.WriteString("storage:\n")
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  %s:\n    ann:\n      nickname: %s\n      anonymous-storage-NURLs:\n      - %s\n",
			n.Info.ID, n.Nickname, n.Info.NURLs[0])
	}
	path := filepath.Join(g.Dir, "servers.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", errkind.E("demo.WriteGridFile", errkind.Other, err)
	}
	return path, nil
}
