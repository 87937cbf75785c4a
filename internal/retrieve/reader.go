// Package retrieve reads files and directories from a Tahoe-LAFS grid:
// mutable SDMF and MDMF files (through a map update, then k shares in
// parallel, verified block by block and streamed segment by segment),
// immutable CHK files (UEB and hash trees verified), literal caps, and
// the directories stored in any of them, with path traversal.
package retrieve

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// Source is what reading needs from one storage server; *grid.Client is one.
type Source = mapupdate.Source

// Options tune reads. The zero value is usable.
type Options struct {
	// Timeout bounds each server's part of a map update and each
	// request for share data. Default 30s.
	Timeout time.Duration
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Timeout <= 0 {
		r.Timeout = 30 * time.Second
	}
	return r
}

// Reader reads from one grid, keeping one client (and its connections)
// per server across reads. It is safe for concurrent use.
type Reader struct {
	grid    *grid.Grid
	opts    Options
	copts   grid.Options
	mu      sync.Mutex
	clients map[string]*grid.Client
}

// NewReader returns a Reader for g. co tunes the grid clients (nil for
// defaults).
func NewReader(g *grid.Grid, o *Options, co *grid.Options) *Reader {
	r := &Reader{grid: g, opts: o.withDefaults(), clients: map[string]*grid.Client{}}
	if co != nil {
		r.copts = *co
	}
	return r
}

// Close releases the clients' connections.
func (r *Reader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.clients {
		c.Close()
	}
}

// Servers returns the grid's servers in Tahoe's permuted order for si
// (servers without an HTTP endpoint last, with their Err set).
func (r *Reader) Servers(si []byte) []mapupdate.Server {
	r.mu.Lock()
	defer r.mu.Unlock()
	infos := r.grid.Permuted(si)
	for _, info := range r.grid.Servers {
		if info.Unreachable != "" {
			infos = append(infos, info)
		}
	}
	var out []mapupdate.Server
	for _, info := range infos {
		s := mapupdate.Server{ID: info.ID, Name: info.Name()}
		c := r.clients[info.ID]
		if c == nil {
			var err error
			if c, err = info.Client(&r.copts); err != nil {
				s.Err = err
				out = append(out, s)
				continue
			}
			r.clients[info.ID] = c
		}
		s.Source = c
		out = append(out, s)
	}
	return out
}

// Map runs a map update for a mutable cap.
func (r *Reader) Map(ctx context.Context, c *cap.Mutable) (*mapupdate.Map, error) {
	return mapupdate.Update(ctx, c, r.Servers(c.SI), &mapupdate.Options{Timeout: r.opts.Timeout})
}

// Cat writes the contents of the file c names to w. c may be any file
// cap that can read (write caps included), or a directory cap, whose
// raw contents are written.
func (r *Reader) Cat(ctx context.Context, w io.Writer, c cap.Cap) (*Report, error) {
	const op = "retrieve.Cat"
	switch c := c.(type) {
	case *cap.LIT:
		_, err := w.Write(c.Data)
		if err != nil {
			return nil, errkind.E(op, errkind.Other, err)
		}
		return &Report{}, nil
	case *cap.CHK:
		if c.Access != cap.Read {
			return nil, errkind.E(op, errkind.Usage, "a verify cap cannot read the file")
		}
		return r.catCHK(ctx, w, c)
	case *cap.Mutable:
		if c.Readkey == nil {
			return nil, errkind.E(op, errkind.Usage, "a verify cap cannot read the file")
		}
		m, err := r.Map(ctx, c)
		if err != nil {
			return nil, err
		}
		v, err := Recoverable(m)
		if err != nil {
			return nil, err
		}
		return Mutable(ctx, w, c.Readkey, c.SI, v, &r.opts)
	}
	return nil, errkind.E(op, errkind.Usage, "cannot read a %s cap", c.Kind())
}
