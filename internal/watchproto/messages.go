// Package watchproto is the tahoe-watch watch protocol, version 1: its
// messages, their strict CBOR encoding, and a client connection that
// subscribes to mutable storage indexes on a storage server and receives
// change notices. docs/watch-protocol.md is the specification.
package watchproto

import "strings"

// Subprotocol is the WebSocket subprotocol name both ends must agree on.
const Subprotocol = "tahoe-watch.v1"

// Path is the endpoint a storage server or sidecar serves the protocol on.
const Path = "/storage/v1/watch"

// AppVersionToken is the word a server includes in the application-version
// of its GBS version document to advertise the endpoint. It rides in that
// opaque field because Tahoe-LAFS 1.20 clients reject version documents
// with any extra key.
const AppVersionToken = "watch=" + Subprotocol

// Advertised reports whether an application-version advertises the watch
// endpoint.
func Advertised(appVersion []byte) bool {
	for _, w := range strings.Fields(string(appVersion)) {
		if w == AppVersionToken {
			return true
		}
	}
	return false
}

// Lengths of the fixed-size fields.
const (
	SILen   = 16 // storage index
	FPLen   = 32 // verification-key fingerprint
	RootLen = 32 // share hash tree root hash
)

// Reason is why a server refused one subscription.
type Reason string

// The refusal reasons.
const (
	NoShare             Reason = "no-share"             // no mutable share for the index here
	FingerprintMismatch Reason = "fingerprint-mismatch" // no share's key hashes to the fingerprint
	OverLimit           Reason = "over-limit"           // a subscription limit would be exceeded
	Malformed           Reason = "malformed"            // bad index or fingerprint length
	Unavailable         Reason = "unavailable"          // the server could not read its shares
)

// Close codes beyond RFC 6455's, sent in the WebSocket close frame.
const (
	CloseProtocolError = 4000 // malformed message; do not retry blindly
	CloseOverflow      = 4001 // notices were lost; resubscribe and re-read
	CloseKeepalive     = 4002 // the peer stopped answering pings
)

// Message is any protocol message.
type Message interface{ msgType() string }

// Sub asks to watch one storage index.
type Sub struct {
	SI          []byte `cbor:"si"`
	Fingerprint []byte `cbor:"fp"`
	Seqnum      uint64 `cbor:"seq"` // highest seqnum the client has verified
}

// Subscribe asks to watch a batch of storage indexes.
type Subscribe struct {
	ID   uint64 `cbor:"id"`
	Subs []Sub  `cbor:"subs"`
}

// Unsubscribe stops watching a batch of storage indexes.
type Unsubscribe struct {
	ID  uint64   `cbor:"id"`
	SIs [][]byte `cbor:"sis"`
}

// ShareState is one share's current version as the server read it.
type ShareState struct {
	Shnum  uint64 `cbor:"shnum"`
	Seqnum uint64 `cbor:"seq"`
	Root   []byte `cbor:"root"`
}

// Result answers one Sub: refused with a reason, or accepted with the
// current state of every share the server holds for the index.
type Result struct {
	SI      []byte       `cbor:"si"`
	Refused Reason       `cbor:"refused,omitempty"`
	Newer   bool         `cbor:"newer,omitempty"`
	Shares  []ShareState `cbor:"shares,omitempty"`
}

// Subscribed answers a Subscribe with one Result per Sub, in order.
type Subscribed struct {
	ID      uint64   `cbor:"id"`
	Results []Result `cbor:"results"`
}

// Unsubscribed answers an Unsubscribe.
type Unsubscribed struct {
	ID uint64 `cbor:"id"`
}

// Notice tells a subscriber that a share changed or was deleted.
type Notice struct {
	SI      []byte `cbor:"si"`
	Shnum   uint64 `cbor:"shnum"`
	Seqnum  uint64 `cbor:"seq,omitempty"`
	Root    []byte `cbor:"root,omitempty"`
	Deleted bool   `cbor:"deleted,omitempty"`
}

func (*Subscribe) msgType() string    { return "subscribe" }
func (*Unsubscribe) msgType() string  { return "unsubscribe" }
func (*Subscribed) msgType() string   { return "subscribed" }
func (*Unsubscribed) msgType() string { return "unsubscribed" }
func (*Notice) msgType() string       { return "notice" }
