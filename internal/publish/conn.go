package publish

import (
	"context"
	"sync"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
)

// Storage is what publishing needs from one storage server. *grid.Client
// implements it.
type Storage interface {
	ListShares(ctx context.Context, kind string, si []byte) ([]uint64, error)
	ReadShare(ctx context.Context, kind string, si []byte, shnum uint64, offset, length int64) ([]byte, error)
	ReadTestWrite(ctx context.Context, si []byte, s grid.Secrets, tw map[uint64]grid.TestWrite, rv []grid.ReadVector) (*grid.RTWResult, error)
	AdviseCorrupt(ctx context.Context, kind string, si []byte, shnum uint64, reason string) error
}

// Clients hands out one *grid.Client per server and keeps them for reuse.
// It is safe for concurrent use.
type Clients struct {
	Options *grid.Options

	mu      sync.Mutex
	clients map[string]*grid.Client
}

// Client returns the client for s, creating it on first use.
func (c *Clients) Client(s *grid.ServerInfo) (*grid.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[s.ID]; ok {
		return cl, nil
	}
	cl, err := s.Client(c.Options)
	if err != nil {
		return nil, err
	}
	if c.clients == nil {
		c.clients = make(map[string]*grid.Client)
	}
	c.clients[s.ID] = cl
	return cl, nil
}

// Dial is Client as a Storage, the form Publisher.Dial takes.
func (c *Clients) Dial(s *grid.ServerInfo) (Storage, error) { return c.Client(s) }

// Close closes every client handed out.
func (c *Clients) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.clients {
		cl.Close()
	}
	c.clients = nil
}
