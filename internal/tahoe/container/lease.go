// Package container reads and writes the files in which a Tahoe-LAFS
// storage server keeps shares on disk: the "Tahoe mutable container" (v1
// with cleartext lease secrets, v2 with hashed ones) and the immutable
// share file (header versions 1 and 2), each with its leases.
//
// The layouts follow Tahoe-LAFS 1.20's storage server byte for byte, so a
// share written here can be moved to a Tahoe node and back. Parsers never
// panic on bad input; they return errors of kind errkind.Corrupt.
package container

import (
	"crypto/subtle"
	"encoding/binary"
	"time"

	"golang.org/x/crypto/blake2b"
)

// LeaseDuration is how long a new or renewed lease lasts (hard-coded in
// Tahoe's storage protocol).
const LeaseDuration = 31 * 24 * time.Hour

// Sizes of the serialised lease records.
const (
	MutableLeaseSize   = 92 // owner, expiration, renew, cancel, node id
	ImmutableLeaseSize = 72 // owner, renew, cancel, expiration
)

// Lease is one lease record. The secrets are as stored: cleartext in
// version 1 containers, BLAKE2b-256 hashes of the client's secrets in
// version 2 containers.
type Lease struct {
	Owner        uint32   // 0 marks an empty slot (mutable containers)
	Expiration   uint32   // seconds since the epoch
	RenewSecret  [32]byte // stored renew secret
	CancelSecret [32]byte // stored cancel secret
	NodeID       [20]byte // server that accepted the lease (mutable only)
}

// Empty reports whether the lease slot is unused.
func (l Lease) Empty() bool { return l.Owner == 0 }

// ExpiresAt returns the expiration as a time.
func (l Lease) ExpiresAt() time.Time { return time.Unix(int64(l.Expiration), 0) }

// HashSecret is how version 2 containers store a lease secret:
// BLAKE2b with a 32-byte digest.
func HashSecret(secret []byte) [32]byte { return blake2b.Sum256(secret) }

// storedSecret returns the form of secret kept in a container of the given
// version.
func storedSecret(version int, secret []byte) [32]byte {
	if version >= 2 {
		return HashSecret(secret)
	}
	var s [32]byte
	copy(s[:], secret)
	return s
}

// matches compares a stored secret against a client's secret in constant time.
func matches(version int, stored [32]byte, secret []byte) bool {
	want := storedSecret(version, secret)
	return subtle.ConstantTimeCompare(stored[:], want[:]) == 1
}

func (l Lease) appendMutable(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, l.Owner)
	b = binary.BigEndian.AppendUint32(b, l.Expiration)
	b = append(b, l.RenewSecret[:]...)
	b = append(b, l.CancelSecret[:]...)
	return append(b, l.NodeID[:]...)
}

func parseMutableLease(b []byte) Lease {
	var l Lease
	l.Owner = binary.BigEndian.Uint32(b[0:])
	l.Expiration = binary.BigEndian.Uint32(b[4:])
	copy(l.RenewSecret[:], b[8:40])
	copy(l.CancelSecret[:], b[40:72])
	copy(l.NodeID[:], b[72:92])
	return l
}

func (l Lease) appendImmutable(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, l.Owner)
	b = append(b, l.RenewSecret[:]...)
	b = append(b, l.CancelSecret[:]...)
	return binary.BigEndian.AppendUint32(b, l.Expiration)
}

func parseImmutableLease(b []byte) Lease {
	var l Lease
	l.Owner = binary.BigEndian.Uint32(b[0:])
	copy(l.RenewSecret[:], b[4:36])
	copy(l.CancelSecret[:], b[36:68])
	l.Expiration = binary.BigEndian.Uint32(b[68:])
	return l
}

// LeaseRequest is a client's lease: cleartext secrets, an expiration and
// the id of the server granting it.
type LeaseRequest struct {
	RenewSecret  []byte
	CancelSecret []byte
	Expiration   uint32
	NodeID       [20]byte
}

// NewLeaseRequest builds a request for a lease expiring LeaseDuration after now.
func NewLeaseRequest(renew, cancel []byte, now time.Time, nodeID [20]byte) LeaseRequest {
	return LeaseRequest{RenewSecret: renew, CancelSecret: cancel,
		Expiration: uint32(now.Add(LeaseDuration).Unix()), NodeID: nodeID}
}

// record builds the stored lease for a container of the given version.
func (r LeaseRequest) record(version int) Lease {
	return Lease{Owner: 1, Expiration: r.Expiration,
		RenewSecret:  storedSecret(version, r.RenewSecret),
		CancelSecret: storedSecret(version, r.CancelSecret), NodeID: r.NodeID}
}

// renewIn renews the first lease in ls whose renew secret matches, as
// Tahoe does (never moving an expiration backwards). It reports whether
// one matched.
func (r LeaseRequest) renewIn(version int, ls []Lease) bool {
	for i := range ls {
		if ls[i].Empty() || !matches(version, ls[i].RenewSecret, r.RenewSecret) {
			continue
		}
		if r.Expiration > ls[i].Expiration {
			ls[i].Expiration = r.Expiration
		}
		return true
	}
	return false
}
