package watchserver

import (
	"context"
	"path/filepath"

	"github.com/tahoe-watch/tahoe-watch/internal/storage"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// AttachToStorage serves the watch endpoint on a storage server: it
// mounts the handler at watchproto.Path and feeds every durable mutable
// write the server's backend reports to a new Hub, which reads share
// states from the backend's directory. Call it before srv.Serve.
func AttachToStorage(srv *storage.Server, opts Options) *Hub {
	hub := NewHub(DiskSource{Dir: filepath.Join(srv.Backend().Dir(), "shares")}, opts)
	srv.Backend().OnMutableChange(func(si []byte, shnum int) {
		hub.Notify(context.Background(), si, shnum)
	})
	srv.Handle(watchproto.Path, NewHandler(hub, srv.Identity().Swissnum))
	return hub
}

// NewStorageServer builds a storage server that serves the watch endpoint
// and advertises it: the watch token joins cfg's application-version (the
// only place Tahoe 1.20 clients tolerate it) and AttachToStorage mounts
// the hub. Both always go together, so clients never dial a server that
// does not advertise, nor miss one that does.
func NewStorageServer(cfg storage.Config, opts Options) (*storage.Server, *Hub, error) {
	if cfg.ApplicationVersion == "" {
		cfg.ApplicationVersion = storage.ApplicationVersion
	}
	cfg.ApplicationVersion += " " + watchproto.AppVersionToken
	srv, err := storage.NewServer(cfg)
	if err != nil {
		return nil, nil, err
	}
	return srv, AttachToStorage(srv, opts), nil
}
