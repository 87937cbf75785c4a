// Package watchserver is the server side of the watch protocol
// (docs/watch-protocol.md): a Hub that keeps subscriptions and fans change
// notices out to them, and the WebSocket handler that speaks the protocol
// to each client. The Hub learns about shares only through a ShareSource
// and about writes only through Notify, so the same code serves the
// storage server's endpoint and the notifier sidecar.
package watchserver

import "context"

// ShareState is one mutable share's current version and the fingerprint
// of the verification key it carries.
type ShareState struct {
	Shnum       int
	Seqnum      uint64
	Root        [32]byte
	Fingerprint [32]byte // hashes.SSKPubkeyFingerprint of the share's key
}

// ShareSource reads the mutable shares a server holds.
type ShareSource interface {
	// MutableShares returns the state of every mutable share held for
	// storage index si, or none. An error means the shares could not be
	// read; it is not "no shares". The returned slice belongs to the
	// caller, which may keep it.
	MutableShares(ctx context.Context, si []byte) ([]ShareState, error)
}
