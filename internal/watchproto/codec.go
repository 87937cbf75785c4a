package watchproto

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// Default size limits; servers and clients may configure others.
const (
	DefaultMaxRequestSize    = 1 << 20  // bytes in one client message
	DefaultMaxReplySize      = 16 << 20 // bytes in one server message
	DefaultMaxSubsPerMessage = 1000     // subscriptions in one subscribe
	maxShnum                 = 255
)

// Wire forms: the message with its "type" key.
type (
	subscribeWire struct {
		Type string `cbor:"type"`
		Subscribe
	}
	unsubscribeWire struct {
		Type string `cbor:"type"`
		Unsubscribe
	}
	subscribedWire struct {
		Type string `cbor:"type"`
		Subscribed
	}
	unsubscribedWire struct {
		Type string `cbor:"type"`
		Unsubscribed
	}
	noticeWire struct {
		Type string `cbor:"type"`
		Notice
	}
	typeOnly struct {
		Type string `cbor:"type"`
	}
)

var (
	encMode cbor.EncMode
	// peekMode reads only "type"; strictMode rejects anything off-schema.
	peekMode, strictMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.EncOptions{IndefLength: cbor.IndefLengthForbidden}.EncMode()
	if err != nil {
		panic(err) // static options; cannot fail at run time
	}
	base := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   8,
		MaxArrayElements:  1 << 20,
		MaxMapPairs:       16,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}
	if peekMode, err = base.DecMode(); err != nil {
		panic(err)
	}
	base.ExtraReturnErrors = cbor.ExtraDecErrorUnknownField
	if strictMode, err = base.DecMode(); err != nil {
		panic(err)
	}
}

// Encode returns m's wire form.
func Encode(m Message) ([]byte, error) {
	var w any
	switch m := m.(type) {
	case *Subscribe:
		w = subscribeWire{m.msgType(), *m}
	case *Unsubscribe:
		w = unsubscribeWire{m.msgType(), *m}
	case *Subscribed:
		w = subscribedWire{m.msgType(), *m}
	case *Unsubscribed:
		w = unsubscribedWire{m.msgType(), *m}
	case *Notice:
		w = noticeWire{m.msgType(), *m}
	default:
		return nil, errkind.E("watchproto.Encode", errkind.Invalid, "unknown message %T", m)
	}
	b, err := encMode.Marshal(w)
	if err != nil {
		return nil, errkind.E("watchproto.Encode", errkind.Invalid, err)
	}
	return b, nil
}

// DecodeRequest decodes a client message (Subscribe or Unsubscribe),
// rejecting anything off-schema and batches of more than maxSubs entries.
func DecodeRequest(b []byte, maxSubs int) (Message, error) {
	const op = "watchproto.DecodeRequest"
	t, err := peek(b)
	if err != nil {
		return nil, errkind.E(op, errkind.Invalid, err)
	}
	switch t {
	case "subscribe":
		var w subscribeWire
		if err := strictMode.Unmarshal(b, &w); err != nil {
			return nil, errkind.E(op, errkind.Invalid, err)
		}
		if n := len(w.Subs); n == 0 || n > maxSubs {
			return nil, errkind.E(op, errkind.Invalid, "subscribe with %d subs (1 to %d allowed)", n, maxSubs)
		}
		return &w.Subscribe, nil
	case "unsubscribe":
		var w unsubscribeWire
		if err := strictMode.Unmarshal(b, &w); err != nil {
			return nil, errkind.E(op, errkind.Invalid, err)
		}
		if n := len(w.SIs); n == 0 || n > maxSubs {
			return nil, errkind.E(op, errkind.Invalid, "unsubscribe with %d indexes (1 to %d allowed)", n, maxSubs)
		}
		for _, si := range w.SIs {
			if len(si) != SILen {
				return nil, errkind.E(op, errkind.Invalid, "storage index of %d bytes", len(si))
			}
		}
		return &w.Unsubscribe, nil
	}
	return nil, errkind.E(op, errkind.Invalid, "unexpected message type %q", t)
}

// DecodeReply decodes a server message (Subscribed, Unsubscribed or
// Notice), rejecting anything off-schema.
func DecodeReply(b []byte) (Message, error) {
	const op = "watchproto.DecodeReply"
	t, err := peek(b)
	if err != nil {
		return nil, errkind.E(op, errkind.Invalid, err)
	}
	var m Message
	switch t {
	case "subscribed":
		var w subscribedWire
		if err = strictMode.Unmarshal(b, &w); err == nil {
			err = w.Subscribed.check()
		}
		m = &w.Subscribed
	case "unsubscribed":
		var w unsubscribedWire
		err = strictMode.Unmarshal(b, &w)
		m = &w.Unsubscribed
	case "notice":
		var w noticeWire
		if err = strictMode.Unmarshal(b, &w); err == nil {
			err = w.Notice.check()
		}
		m = &w.Notice
	default:
		err = fmt.Errorf("unexpected message type %q", t)
	}
	if err != nil {
		return nil, errkind.E(op, errkind.Invalid, err)
	}
	return m, nil
}

func peek(b []byte) (string, error) {
	var t typeOnly
	if err := peekMode.Unmarshal(b, &t); err != nil {
		return "", err
	}
	return t.Type, nil
}

func (s *Subscribed) check() error {
	for _, r := range s.Results {
		if len(r.SI) != SILen && r.Refused != Malformed {
			return fmt.Errorf("result storage index of %d bytes", len(r.SI))
		}
		if (r.Refused == "") == (len(r.Shares) == 0) {
			return fmt.Errorf("result must be refused or list shares, not both or neither")
		}
		for _, sh := range r.Shares {
			if sh.Shnum > maxShnum || len(sh.Root) != RootLen {
				return fmt.Errorf("bad share state (shnum %d, root of %d bytes)", sh.Shnum, len(sh.Root))
			}
		}
	}
	return nil
}

func (n *Notice) check() error {
	switch {
	case len(n.SI) != SILen:
		return fmt.Errorf("notice storage index of %d bytes", len(n.SI))
	case n.Shnum > maxShnum:
		return fmt.Errorf("notice share number %d", n.Shnum)
	case n.Deleted && (n.Seqnum != 0 || n.Root != nil):
		return fmt.Errorf("deletion notice with a state")
	case !n.Deleted && len(n.Root) != RootLen:
		return fmt.Errorf("notice root of %d bytes", len(n.Root))
	}
	return nil
}
