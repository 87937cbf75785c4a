package watchproto

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func si(b byte) []byte  { return bytes.Repeat([]byte{b}, SILen) }
func h32(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestRoundTrip(t *testing.T) {
	reqs := []Message{
		&Subscribe{ID: 7, Subs: []Sub{{SI: si(1), Fingerprint: h32(2), Seqnum: 3}}},
		&Unsubscribe{ID: 8, SIs: [][]byte{si(1), si(2)}},
	}
	for _, m := range reqs {
		b, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeRequest(b, 10)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("%T: got %#v, %v", m, got, err)
		}
		if _, err := DecodeReply(b); err == nil {
			t.Errorf("%T accepted as a reply", m)
		}
	}
	replies := []Message{
		&Subscribed{ID: 7, Results: []Result{
			{SI: si(1), Newer: true, Shares: []ShareState{{Shnum: 0, Seqnum: 4, Root: h32(5)}}},
			{SI: si(2), Refused: FingerprintMismatch},
		}},
		&Unsubscribed{ID: 8},
		&Notice{SI: si(1), Shnum: 3, Seqnum: 9, Root: h32(6)},
		&Notice{SI: si(1), Shnum: 3, Deleted: true},
	}
	for _, m := range replies {
		b, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeReply(b)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("%T: got %#v, %v", m, got, err)
		}
	}
}

// TestWireFormat pins the encoding the spec documents, so that a Python
// implementation can be checked against the same bytes.
func TestWireFormat(t *testing.T) {
	b, _ := Encode(&Unsubscribed{ID: 1})
	// {"type": "unsubscribed", "id": 1}
	want := "a264747970656c756e7375627363726962656462696401"
	if hex.EncodeToString(b) != want {
		t.Errorf("got %x, want %s", b, want)
	}
	var generic map[string]any
	nb, _ := Encode(&Notice{SI: si(1), Shnum: 2, Seqnum: 3, Root: h32(4)})
	if err := cbor.Unmarshal(nb, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "si", "shnum", "seq", "root"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("notice lacks key %q: %v", k, generic)
		}
	}
}

func mustCBOR(t testing.TB, v any) []byte {
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRejects(t *testing.T) {
	sub := map[string]any{"si": si(1), "fp": h32(2), "seq": 1}
	bad := map[string][]byte{
		"empty":          {},
		"not a map":      mustCBOR(t, []int{1}),
		"no type":        mustCBOR(t, map[string]any{"id": 1}),
		"unknown type":   mustCBOR(t, map[string]any{"type": "hello"}),
		"unknown key":    mustCBOR(t, map[string]any{"type": "subscribe", "id": 1, "subs": []any{sub}, "x": 1}),
		"empty batch":    mustCBOR(t, map[string]any{"type": "subscribe", "id": 1, "subs": []any{}}),
		"batch too big":  mustCBOR(t, map[string]any{"type": "subscribe", "id": 1, "subs": []any{sub, sub, sub}}),
		"wrong key case": mustCBOR(t, map[string]any{"TYPE": "subscribe", "id": 1, "subs": []any{sub}}),
		"reply type":     mustCBOR(t, map[string]any{"type": "notice", "si": si(1), "shnum": 1, "seq": 1, "root": h32(1)}),
		"bad unsub si":   mustCBOR(t, map[string]any{"type": "unsubscribe", "id": 1, "sis": [][]byte{{1, 2}}}),
		"trailing":       append(mustCBOR(t, map[string]any{"type": "unsubscribe", "id": 1, "sis": [][]byte{si(1)}}), 0),
		"tagged":         append([]byte{0xc1}, mustCBOR(t, map[string]any{"type": "unsubscribe", "id": 1, "sis": [][]byte{si(1)}})...),
		"indefinite":     {0xbf, 0x64, 't', 'y', 'p', 'e', 0x6b, 'u', 'n', 's', 'u', 'b', 's', 'c', 'r', 'i', 'b', 'e', 0xff},
		"dup key":        {0xa2, 0x64, 't', 'y', 'p', 'e', 0x61, 'x', 0x64, 't', 'y', 'p', 'e', 0x61, 'y'},
	}
	for name, b := range bad {
		if m, err := DecodeRequest(b, 2); err == nil {
			t.Errorf("%s: accepted as %#v", name, m)
		}
	}
	badReplies := map[string][]byte{
		"short root":       mustCBOR(t, map[string]any{"type": "notice", "si": si(1), "shnum": 1, "seq": 1, "root": []byte{1}}),
		"shnum 256":        mustCBOR(t, map[string]any{"type": "notice", "si": si(1), "shnum": 256, "seq": 1, "root": h32(1)}),
		"deleted w/ state": mustCBOR(t, map[string]any{"type": "notice", "si": si(1), "shnum": 1, "seq": 1, "deleted": true}),
		"neither":          mustCBOR(t, map[string]any{"type": "subscribed", "id": 1, "results": []any{map[string]any{"si": si(1)}}}),
		"request type":     mustCBOR(t, map[string]any{"type": "unsubscribe", "id": 1, "sis": [][]byte{si(1)}}),
	}
	for name, b := range badReplies {
		if m, err := DecodeReply(b); err == nil {
			t.Errorf("%s: accepted as %#v", name, m)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, m := range []Message{
		&Subscribe{ID: 7, Subs: []Sub{{SI: si(1), Fingerprint: h32(2), Seqnum: 3}}},
		&Unsubscribe{ID: 8, SIs: [][]byte{si(1)}},
	} {
		b, _ := Encode(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeRequest(b, DefaultMaxSubsPerMessage)
		if err != nil {
			return
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", m, err)
		}
		if _, err := DecodeRequest(again, DefaultMaxSubsPerMessage); err != nil {
			t.Fatalf("re-encoding of %#v does not decode: %v", m, err)
		}
	})
}

func FuzzDecodeReply(f *testing.F) {
	for _, m := range []Message{
		&Subscribed{ID: 7, Results: []Result{{SI: si(1), Shares: []ShareState{{Seqnum: 4, Root: h32(5)}}}}},
		&Unsubscribed{ID: 8},
		&Notice{SI: si(1), Shnum: 3, Seqnum: 9, Root: h32(6)},
		&Notice{SI: si(1), Shnum: 3, Deleted: true},
	} {
		b, _ := Encode(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeReply(b)
		if err != nil {
			return
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", m, err)
		}
		if _, err := DecodeReply(again); err != nil {
			t.Fatalf("re-encoding of %#v does not decode: %v", m, err)
		}
	})
}

func TestAdvertised(t *testing.T) {
	for in, want := range map[string]bool{
		"tahoe-watch/1 (x) watch=tahoe-watch.v1": true,
		"watch=tahoe-watch.v1":                   true,
		"tahoe-lafs/1.20.0":                      false,
		"watch=tahoe-watch.v10":                  false,
		"xwatch=tahoe-watch.v1":                  false,
	} {
		if got := Advertised([]byte(in)); got != want {
			t.Errorf("Advertised(%q) = %v", in, got)
		}
	}
}
