package storage

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func cborOf(v any) []byte { b, _ := cbor.Marshal(v); return b }

func FuzzRTWBody(f *testing.F) {
	f.Add(cborOf(map[string]any{"test-write-vectors": map[uint64]any{0: map[string]any{
		"test":  []any{map[string]any{"offset": 0, "size": 1, "specimen": []byte{}}},
		"write": []any{map[string]any{"offset": 0, "data": []byte("x")}}, "new-length": nil}},
		"read-vector": []any{map[string]any{"offset": 0, "size": 4}}}))
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		var req rtwRequest
		if _, err := decodeRTWBody(r, &req); err != nil { // pooled buffers once one fits
			return
		}
		tw, rv, err := req.toBackend()
		if err != nil {
			return
		}
		if len(tw) > 256 || len(rv) > maxReadVectors {
			t.Fatalf("limits not enforced: %d %d", len(tw), len(rv))
		}
		for n, v := range tw {
			if n < 0 || n > MaxShareNumber || len(v.Test) > maxTestVectors {
				t.Fatalf("share %d or its tests out of range", n)
			}
		}
	})
}

func FuzzAllocateBody(f *testing.F) {
	f.Add(cborOf(map[string]any{"share-numbers": cbor.Tag{Number: 258, Content: []uint64{1, 7}}, "allocated-size": 48}))
	f.Add(cborOf(map[string]any{"share-numbers": []uint64{1, 7}, "allocated-size": 48}))
	f.Add(cborOf(map[string]any{"reason": "bad"}))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		var req allocateRequest
		if _, err := decodeBody(r, maxAllocateBody, &req); err == nil && req.ShareNumbers != nil {
			seen := map[uint64]bool{}
			for _, n := range *req.ShareNumbers {
				if seen[n] {
					t.Fatal("duplicate share number accepted in a set")
				}
				seen[n] = true
			}
			if _, err := req.ShareNumbers.MarshalCBOR(); err != nil {
				t.Fatal(err)
			}
		}
		r = httptest.NewRequest("POST", "/", bytes.NewReader(body))
		var c corruptRequest
		decodeBody(r, maxCorruptBody, &c)
	})
}

func FuzzHeaders(f *testing.F) {
	f.Add("bytes=0-10", "bytes 0-9/10", "lease-renew-secret AAAA", "application/cbor;q=0.5, */*;q=0.1")
	f.Add("bytes=5-", "bytes 1-2/*", "upload-secret !!", "")
	f.Fuzz(func(t *testing.T, rng, crange, secret, accept string) {
		if a, b, ok := parseRange(rng); ok && a > b {
			t.Fatal("range with first > last accepted")
		}
		if a, b, ok := parseContentRange(crange); ok && a > b {
			t.Fatal("content range with first > last accepted")
		}
		h := http.Header{}
		h.Add("X-Tahoe-Authorization", secret)
		if s, err := parseSecrets(h, secretLeaseRenew); err == nil && len(s[secretLeaseRenew]) != 32 {
			t.Fatal("short lease secret accepted")
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", accept)
		acceptsCBOR(r)
	})
}
