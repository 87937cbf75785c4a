package mapupdate

import (
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
)

// Clients builds the servers of g to ask about storage index si, in
// Tahoe's permuted order for si, each with its own grid client. A server
// that cannot be used (no HTTP endpoint) is included with its Err set.
// close releases the clients' connections.
func Clients(g *grid.Grid, si []byte, o *grid.Options) (servers []Server, close func()) {
	var clients []*grid.Client
	infos := g.Permuted(si)
	for _, info := range g.Servers {
		if info.Unreachable != "" {
			infos = append(infos, info)
		}
	}
	for _, info := range infos {
		s := Server{ID: info.ID, Name: info.Name()}
		c, err := info.Client(o)
		if err != nil {
			s.Err = err
		} else {
			s.Source = c
			clients = append(clients, c)
		}
		servers = append(servers, s)
	}
	return servers, func() {
		for _, c := range clients {
			c.Close()
		}
	}
}
