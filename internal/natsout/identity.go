package natsout

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/events"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// DefaultSubjectPrefix is the first tokens of every subject the sink
// publishes on: PREFIX.<storage index>.<type>.
const DefaultSubjectPrefix = "tahoe.watch"

// msgIDVersion starts every Nats-Msg-Id, so that a later change of the
// derivation cannot collide with ids stored before it.
const msgIDVersion = "tw1"

// Identity is what makes an event the same event whichever watcher saw
// it: the storage index of the watched cap (the event's Root), the
// path below it, the type (with a warning's kind) and the seqnum.
// Times, latencies, the server that pushed first and the previous
// seqnum are watcher-local and are not part of it.
type Identity struct {
	SI     string // base32 storage index of the watched cap
	Path   string
	Type   string // "changed", ..., or "warning.<kind>"
	Seqnum uint64
}

// IdentityOf derives e's identity. It fails only for an event whose
// Root (or, lacking one, Cap) is not a cap with a storage index.
func IdentityOf(e events.Event) (Identity, error) {
	root := e.Root
	if root == "" {
		root = e.Cap
	}
	c, err := cap.Parse(root)
	if err != nil {
		return Identity{}, errkind.E("natsout.Identity", errkind.Invalid, "event's watched cap: %w", err)
	}
	si := c.StorageIndex()
	if si == nil {
		return Identity{}, errkind.E("natsout.Identity", errkind.Invalid, "a %s cap has no storage index", c.Kind())
	}
	t := token(string(e.Type))
	if e.Type == events.Warning && e.Warning != "" {
		t += "." + token(e.Warning)
	}
	return Identity{SI: cap.FormatSI(si), Path: e.Path, Type: t, Seqnum: e.Seqnum}, nil
}

// MsgID is the Nats-Msg-Id of the identity:
// "tw1-<si>-<seqnum>-<type>-<hex of the first 16 bytes of SHA-256(path)>".
// The path is hashed so that any name a directory holds gives a short
// header value of safe characters.
func (id Identity) MsgID() string {
	h := sha256.Sum256([]byte(id.Path))
	return strings.Join([]string{msgIDVersion, id.SI, strconv.FormatUint(id.Seqnum, 10), id.Type,
		hex.EncodeToString(h[:16])}, "-")
}

// Subject is the subject the identity's event is published on:
// "<prefix>.<si>.<type>" (a warning's type token is just "warning").
func (id Identity) Subject(prefix string) string {
	t, _, _ := strings.Cut(id.Type, ".")
	return prefix + "." + id.SI + "." + t
}

// token keeps s usable as one subject token and in a header value:
// lower-case letters, digits and '-' stay, anything else becomes '_',
// and at most 40 bytes are kept. The event types and warning kinds
// tahoe-watch emits are unchanged.
func token(s string) string {
	const maxToken = 40
	if s == "" {
		return "_"
	}
	b := []byte(s[:min(len(s), maxToken)])
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// validPrefix reports whether p can start a subject: dot-separated
// tokens, none empty, none a wildcard, no whitespace.
func validPrefix(p string) bool {
	if p == "" {
		return false
	}
	for _, t := range strings.Split(p, ".") {
		if t == "" || t == "*" || t == ">" || strings.ContainsAny(t, " \t\r\n*>") {
			return false
		}
	}
	return true
}
