package storagetest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// Client sends raw protocol requests to a Target.
type Client struct {
	T      Target
	HTTP   *http.Client
	Header http.Header // extra headers for every request
}

// NewClient returns a pinned client for tg.
func NewClient(tg Target) *Client { return &Client{T: tg, HTTP: PinnedClient(tg.SPKIHash)} }

// Secret formats one X-Tahoe-Authorization value.
func Secret(kind string, value []byte) string {
	return kind + " " + base64.StdEncoding.EncodeToString(value)
}

// Do sends a request with the swissnum, the given secrets and extra
// headers ("Name: value"), and returns the status, headers and body.
func (c *Client) Do(method, path string, body []byte, secrets []string, headers ...string) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, c.T.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Tahoe-LAFS "+base64.StdEncoding.EncodeToString([]byte(c.T.Swissnum)))
	for k, v := range c.Header {
		req.Header[k] = v
	}
	for _, s := range secrets {
		req.Header.Add("X-Tahoe-Authorization", s)
	}
	for _, h := range headers {
		k, v, _ := bytes.Cut([]byte(h), []byte(": "))
		if string(v) == "" {
			req.Header.Del(string(k))
		} else {
			req.Header.Set(string(k), string(v))
		}
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/cbor")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// RandomSI returns a fresh storage index in base32.
func RandomSI() string { return base32.Encode(randBytes(16)) }

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// MustCBOR encodes v or panics (test inputs only).
func MustCBOR(v any) []byte {
	b, err := cbor.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Set builds a CBOR tag-258 set of share numbers.
func Set(ns ...uint64) cbor.Tag { return cbor.Tag{Number: 258, Content: ns} }

// decodeAny decodes CBOR into generic values, keeping tags.
func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := cbor.Unmarshal(b, &v); err != nil {
		t.Fatalf("response is not CBOR: %v (%q)", err, b)
	}
	return v
}

// wantSet checks that v is a tag-258 set holding exactly want.
func wantSet(t *testing.T, what string, v any, want ...uint64) {
	t.Helper()
	tag, ok := v.(cbor.Tag)
	if !ok || tag.Number != 258 {
		t.Fatalf("%s: %#v is not a tag-258 set", what, v)
	}
	items, _ := tag.Content.([]any)
	var got []uint64
	for _, it := range items {
		n, ok := it.(uint64)
		if !ok {
			t.Fatalf("%s: set member %#v is not uint", what, it)
		}
		got = append(got, n)
	}
	slices.Sort(got)
	if want == nil {
		want = []uint64{}
	}
	if got == nil {
		got = []uint64{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: set %v, want %v", what, got, want)
	}
}

func check(t *testing.T, what string, status int, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if status != want {
		t.Fatalf("%s: status %d, want %d", what, status, want)
	}
}

// Run checks every endpoint of the server at tg. It creates shares
// under fresh random storage indexes, so it can run against a live server.
func Run(t *testing.T, tg Target) {
	c := NewClient(tg)
	t.Run("TLSPin", func(t *testing.T) { checkPin(t, tg) })
	t.Run("Authorization", func(t *testing.T) { checkAuthorization(t, c) })
	t.Run("Version", func(t *testing.T) { checkVersion(t, c) })
	t.Run("Secrets", func(t *testing.T) { checkSecrets(t, c) })
	t.Run("Mutable", func(t *testing.T) { checkMutable(t, c) })
	t.Run("Ranges", func(t *testing.T) { checkRanges(t, c) })
	t.Run("Immutable", func(t *testing.T) { checkImmutable(t, c) })
	t.Run("Leases", func(t *testing.T) { checkLeases(t, c) })
}

func checkPin(t *testing.T, tg Target) {
	wrong := tg
	wrong.SPKIHash = base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	_, _, _, err := NewClient(wrong).Do("GET", "/storage/v1/version", nil, nil)
	if err == nil {
		t.Fatal("a client pinned to another SPKI hash connected")
	}
}

func checkAuthorization(t *testing.T, c *Client) {
	paths := []struct{ method, path string }{
		{"GET", "/storage/v1/version"},
		{"GET", "/storage/v1/mutable/" + RandomSI() + "/shares"},
		{"POST", "/storage/v1/mutable/" + RandomSI() + "/read-test-write"},
		{"GET", "/storage/v1/no-such-endpoint"},
	}
	wrong := "Tahoe-LAFS " + base64.StdEncoding.EncodeToString([]byte(c.T.Swissnum+"x"))
	for _, p := range paths {
		for _, auth := range []string{"Authorization: ", "Authorization: " + wrong, "Authorization: Tahoe-LAFS " + c.T.Swissnum} {
			st, _, _, err := c.Do(p.method, p.path, nil, nil, auth)
			check(t, p.method+" "+p.path+" with "+auth[:min(len(auth), 30)], st, err, http.StatusUnauthorized)
		}
	}
}

func checkVersion(t *testing.T, c *Client) {
	st, h, body, err := c.Do("GET", "/storage/v1/version", nil, nil, "Accept: application/cbor")
	check(t, "version", st, err, http.StatusOK)
	if h.Get("Content-Type") != "application/cbor" {
		t.Errorf("version Content-Type %q", h.Get("Content-Type"))
	}
	var doc map[cbor.ByteString]cbor.RawMessage
	if err := cbor.Unmarshal(body, &doc); err != nil {
		t.Fatalf("version is not a map with byte-string keys: %v", err)
	}
	var v1 map[cbor.ByteString]uint64
	if err := cbor.Unmarshal(doc["http://allmydata.org/tahoe/protocols/storage/v1"], &v1); err != nil {
		t.Fatalf("v1 entry: %v", err)
	}
	for _, k := range []cbor.ByteString{"maximum-immutable-share-size", "maximum-mutable-share-size", "available-space"} {
		if _, ok := v1[k]; !ok {
			t.Errorf("version lacks %s", k)
		}
	}
	var app []byte
	if err := cbor.Unmarshal(doc["application-version"], &app); err != nil || len(app) == 0 {
		t.Errorf("application-version is not a byte string: %v", err)
	}
	st, _, _, err = c.Do("GET", "/storage/v1/version", nil, nil, "Accept: text/html")
	check(t, "version with Accept: text/html", st, err, http.StatusNotAcceptable)
	st, _, _, err = c.Do("GET", "/storage/v1/version", nil, nil)
	check(t, "version without Accept", st, err, http.StatusOK)
}

func checkSecrets(t *testing.T, c *Client) {
	si := RandomSI()
	s32 := randBytes(32)
	cases := []struct {
		name    string
		secrets []string
	}{
		{"missing", nil},
		{"one missing", []string{Secret("lease-renew-secret", s32)}},
		{"short", []string{Secret("lease-renew-secret", s32[:31]), Secret("lease-cancel-secret", s32)}},
		{"not base64", []string{"lease-renew-secret !!!", Secret("lease-cancel-secret", s32)}},
		{"unknown kind", []string{Secret("lease-renew-secret", s32), Secret("lease-cancel-secret", s32), Secret("bogus", s32)}},
		{"wrong kind", []string{Secret("lease-renew-secret", s32), Secret("upload-secret", s32)}},
		{"empty", []string{"lease-renew-secret ", Secret("lease-cancel-secret", s32)}},
	}
	for _, tc := range cases {
		st, _, _, err := c.Do("PUT", "/storage/v1/lease/"+si, nil, tc.secrets)
		check(t, "lease renew with "+tc.name+" secrets", st, err, http.StatusBadRequest)
	}
	st, _, _, err := c.Do("GET", "/storage/v1/version", nil, []string{Secret("upload-secret", s32)})
	check(t, "version with an unexpected secret", st, err, http.StatusBadRequest)
	st, _, _, err = c.Do("POST", "/storage/v1/mutable/"+si+"/read-test-write", rtw(nil), []string{
		Secret("write-enabler", s32[:16]), Secret("lease-renew-secret", s32), Secret("lease-cancel-secret", s32)})
	check(t, "read-test-write with a short write enabler", st, err, http.StatusBadRequest)
}

// MutableSecrets returns X-Tahoe-Authorization values for a read-test-write.
func MutableSecrets(we, renew, cancel []byte) []string {
	return []string{Secret("write-enabler", we), Secret("lease-renew-secret", renew), Secret("lease-cancel-secret", cancel)}
}

type tv = map[string]any

// rtw builds a read-test-write body: share -> (test, write, new-length).
func rtw(tw map[uint64]tv, reads ...tv) []byte {
	if tw == nil {
		tw = map[uint64]tv{}
	}
	if reads == nil {
		reads = []tv{}
	}
	return MustCBOR(tv{"test-write-vectors": tw, "read-vector": reads})
}

func writeOnly(data []byte, test ...tv) tv {
	if test == nil {
		test = []tv{}
	}
	return tv{"test": test, "write": []tv{{"offset": uint64(0), "data": data}}, "new-length": nil}
}

type rtwResult struct {
	Success bool                `cbor:"success"`
	Data    map[uint64][][]byte `cbor:"data"`
}

func doRTW(t *testing.T, c *Client, si string, secrets []string, body []byte, want int) rtwResult {
	t.Helper()
	st, h, resp, err := c.Do("POST", "/storage/v1/mutable/"+si+"/read-test-write", body, secrets)
	check(t, "read-test-write", st, err, want)
	var r rtwResult
	if want == http.StatusOK {
		if h.Get("Content-Type") != "application/cbor" {
			t.Errorf("read-test-write Content-Type %q", h.Get("Content-Type"))
		}
		if err := cbor.Unmarshal(resp, &r); err != nil {
			t.Fatalf("read-test-write response: %v", err)
		}
	}
	return r
}

func checkMutable(t *testing.T, c *Client) {
	si := RandomSI()
	we, renew, cancel := randBytes(32), randBytes(32), randBytes(32)
	sec := MutableSecrets(we, renew, cancel)
	mustBeNew := tv{"offset": uint64(0), "size": uint64(1), "specimen": []byte{}}
	r := doRTW(t, c, si, sec, rtw(map[uint64]tv{3: writeOnly([]byte("xxxxxxxxxx"), mustBeNew)}), http.StatusOK)
	if !r.Success || len(r.Data) != 0 {
		t.Fatalf("creating share 3: %+v", r)
	}
	r = doRTW(t, c, si, sec, rtw(map[uint64]tv{3: writeOnly([]byte("yy"), mustBeNew)}, tv{"offset": uint64(1), "size": uint64(100)}), http.StatusOK)
	if r.Success || !bytes.Equal(r.Data[3][0], []byte("xxxxxxxxx")) {
		t.Fatalf("failing test: %+v", r)
	}
	doRTW(t, c, si, MutableSecrets(randBytes(32), renew, cancel), rtw(map[uint64]tv{3: writeOnly([]byte("zz"))}), http.StatusUnauthorized)
	checkString := tv{"offset": uint64(0), "size": uint64(10), "specimen": []byte("xxxxxxxxxx")}
	r = doRTW(t, c, si, sec, rtw(map[uint64]tv{3: writeOnly([]byte("yyyy"), checkString)}, tv{"offset": uint64(0), "size": uint64(4)}), http.StatusOK)
	if !r.Success || !bytes.Equal(r.Data[3][0], []byte("xxxx")) {
		t.Fatalf("rewrite: %+v (reads are taken before writes)", r)
	}
	st, _, body, err := c.Do("GET", "/storage/v1/mutable/"+si+"/3", nil, nil)
	check(t, "read mutable share", st, err, http.StatusOK)
	if string(body) != "yyyyxxxxxx" {
		t.Fatalf("share data %q", body)
	}
	st, _, body, err = c.Do("GET", "/storage/v1/mutable/"+si+"/shares", nil, nil)
	check(t, "list mutable shares", st, err, http.StatusOK)
	wantSet(t, "mutable shares", decodeAny(t, body), 3)
	st, _, body, err = c.Do("GET", "/storage/v1/mutable/"+RandomSI()+"/shares", nil, nil)
	check(t, "list unknown mutable", st, err, http.StatusOK)
	wantSet(t, "unknown mutable shares", decodeAny(t, body))
	st, _, _, err = c.Do("GET", "/storage/v1/mutable/"+si+"/4", nil, nil)
	check(t, "read missing mutable share", st, err, http.StatusNotFound)
	doRTW(t, c, si, sec, []byte{0xff}, http.StatusBadRequest)
	doRTW(t, c, si, sec, MustCBOR(tv{"test-write-vectors": map[uint64]tv{}}), http.StatusBadRequest)
	st, _, _, err = c.Do("POST", "/storage/v1/mutable/"+si+"/read-test-write", rtw(nil), sec, "Accept: application/json")
	check(t, "read-test-write with Accept: application/json", st, err, http.StatusNotAcceptable)
	st, _, _, err = c.Do("POST", "/storage/v1/mutable/"+si+"/read-test-write", rtw(nil), sec, "Content-Type: application/json")
	check(t, "read-test-write with a JSON body type", st, err, http.StatusUnsupportedMediaType)
	reason := MustCBOR(tv{"reason": "bad hash"})
	st, _, _, err = c.Do("POST", "/storage/v1/mutable/"+si+"/3/corrupt", reason, nil)
	check(t, "mutable corruption advisory", st, err, http.StatusOK)
	st, _, _, err = c.Do("POST", "/storage/v1/mutable/"+si+"/7/corrupt", reason, nil)
	check(t, "advisory on a missing share", st, err, http.StatusNotFound)
	// new-length 0 deletes the share.
	del := tv{"test": []tv{}, "write": []tv{}, "new-length": uint64(0)}
	if r := doRTW(t, c, si, sec, rtw(map[uint64]tv{3: del}), http.StatusOK); !r.Success {
		t.Fatal("delete failed")
	}
	st, _, _, err = c.Do("GET", "/storage/v1/mutable/"+si+"/3", nil, nil)
	check(t, "read deleted share", st, err, http.StatusNotFound)
}

func checkRanges(t *testing.T, c *Client) {
	si := RandomSI()
	sec := MutableSecrets(randBytes(32), randBytes(32), randBytes(32))
	doRTW(t, c, si, sec, rtw(map[uint64]tv{0: writeOnly([]byte("0123456789"))}), http.StatusOK)
	cases := []struct {
		rng, body, contentRange string
		status                  int
	}{
		{"bytes=2-4", "234", "bytes 2-4/10", http.StatusPartialContent},
		{"bytes=0-9", "0123456789", "bytes 0-9/10", http.StatusPartialContent},
		{"bytes=8-100", "89", "bytes 8-9/10", http.StatusPartialContent},
		{"bytes=10-20", "", "", http.StatusNoContent},
		{"bytes=5-", "", "", http.StatusRequestedRangeNotSatisfiable},
		{"bytes=-5", "", "", http.StatusRequestedRangeNotSatisfiable},
		{"bytes=0-1,3-4", "", "", http.StatusRequestedRangeNotSatisfiable},
		{"items=0-1", "", "", http.StatusRequestedRangeNotSatisfiable},
		{"bytes=4-2", "", "", http.StatusRequestedRangeNotSatisfiable},
	}
	for _, tc := range cases {
		st, h, body, err := c.Do("GET", "/storage/v1/mutable/"+si+"/0", nil, nil, "Range: "+tc.rng)
		check(t, "Range: "+tc.rng, st, err, tc.status)
		if tc.status == http.StatusPartialContent && (string(body) != tc.body || h.Get("Content-Range") != tc.contentRange) {
			t.Errorf("Range: %s gave %q with Content-Range %q", tc.rng, body, h.Get("Content-Range"))
		}
	}
}

func checkImmutable(t *testing.T, c *Client) {
	si := RandomSI()
	renew, cancel, up := randBytes(32), randBytes(32), randBytes(16)
	sec := []string{Secret("lease-renew-secret", renew), Secret("lease-cancel-secret", cancel), Secret("upload-secret", up)}
	path := "/storage/v1/immutable/" + si
	st, _, _, err := c.Do("POST", path, MustCBOR(tv{"share-numbers": []uint64{0, 1}, "allocated-size": uint64(12)}), sec)
	check(t, "allocate with a plain array", st, err, http.StatusBadRequest)
	alloc := MustCBOR(tv{"share-numbers": Set(0, 1), "allocated-size": uint64(12)})
	for range 2 { // a retry with the same upload secret gets the same answer
		st, _, body, err := c.Do("POST", path, alloc, sec)
		check(t, "allocate", st, err, http.StatusOK)
		m := decodeAny(t, body).(map[any]any)
		wantSet(t, "already-have", m["already-have"])
		wantSet(t, "allocated", m["allocated"], 0, 1)
	}
	upSec := []string{Secret("upload-secret", up)}
	patch := func(shnum int, rng string, data string, secrets []string) (int, []byte) {
		st, _, body, err := c.Do("PATCH", fmt.Sprintf("%s/%d", path, shnum), []byte(data), secrets, "Content-Range: "+rng, "Content-Type: application/octet-stream")
		if err != nil {
			t.Fatal(err)
		}
		return st, body
	}
	if st, _ := patch(0, "bytes 0-3/12", "abcd", nil); st != http.StatusBadRequest {
		t.Fatalf("PATCH without upload secret: %d", st)
	}
	if st, _ := patch(0, "bytes 0-3/12", "abcd", []string{Secret("upload-secret", randBytes(16))}); st != http.StatusUnauthorized {
		t.Fatalf("PATCH with the wrong upload secret: %d", st)
	}
	st, body := patch(0, "bytes 0-3/12", "abcd", upSec)
	if st != http.StatusOK {
		t.Fatalf("first chunk: %d", st)
	}
	var req struct {
		Required []struct {
			Begin uint64 `cbor:"begin"`
			End   uint64 `cbor:"end"`
		} `cbor:"required"`
	}
	if err := cbor.Unmarshal(body, &req); err != nil || len(req.Required) != 1 || req.Required[0].Begin != 4 || req.Required[0].End != 12 {
		t.Fatalf("required after the first chunk: %+v %v", req, err)
	}
	if st, _ := patch(0, "bytes 2-5/12", "XXef", upSec); st != http.StatusConflict {
		t.Fatalf("conflicting overlap: %d", st)
	}
	if st, _ := patch(0, "bytes 10-13/14", "klmn", upSec); st != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("write past the allocation: %d", st)
	}
	if st, _ := patch(0, "bytes 2-11/12", "cdefghijkl", upSec); st != http.StatusCreated {
		t.Fatalf("last chunk: %d", st)
	}
	st, _, body, err = c.Do("GET", path+"/shares", nil, nil)
	check(t, "list immutable shares", st, err, http.StatusOK)
	wantSet(t, "immutable shares", decodeAny(t, body), 0)
	st, _, body, err = c.Do("GET", path+"/0", nil, nil)
	check(t, "read immutable", st, err, http.StatusOK)
	if string(body) != "abcdefghijkl" {
		t.Fatalf("immutable data %q", body)
	}
	st, h, body, err := c.Do("GET", path+"/0", nil, nil, "Range: bytes=10-20")
	check(t, "read immutable range", st, err, http.StatusPartialContent)
	if string(body) != "kl" || h.Get("Content-Range") != "bytes 10-11/12" {
		t.Fatalf("range read %q %q", body, h.Get("Content-Range"))
	}
	st, _, _, err = c.Do("PUT", path+"/0/abort", nil, upSec)
	check(t, "abort a finished share", st, err, http.StatusMethodNotAllowed)
	st, _, _, err = c.Do("PUT", path+"/1/abort", nil, upSec)
	check(t, "abort an upload", st, err, http.StatusOK)
	if st, _ := patch(1, "bytes 0-3/12", "abcd", upSec); st != http.StatusNotFound {
		t.Fatalf("PATCH after abort: %d", st)
	}
	st, _, body, err = c.Do("POST", path, MustCBOR(tv{"share-numbers": Set(0, 2), "allocated-size": uint64(12)}), sec)
	check(t, "allocate again", st, err, http.StatusOK)
	m := decodeAny(t, body).(map[any]any)
	wantSet(t, "already-have", m["already-have"], 0)
	wantSet(t, "allocated", m["allocated"], 2)
	st, _, _, err = c.Do("POST", path+"/0/corrupt", MustCBOR(tv{"reason": "x"}), nil)
	check(t, "immutable corruption advisory", st, err, http.StatusOK)
	st, _, _, err = c.Do("POST", path+"/0/corrupt", MustCBOR(tv{"reason": ""}), nil)
	check(t, "advisory with an empty reason", st, err, http.StatusBadRequest)
	st, _, _, err = c.Do("GET", path+"/5", nil, nil)
	check(t, "read missing immutable", st, err, http.StatusNotFound)
}

func checkLeases(t *testing.T, c *Client) {
	s1, s2 := randBytes(32), randBytes(32)
	lease := []string{Secret("lease-renew-secret", s1), Secret("lease-cancel-secret", s2)}
	st, _, _, err := c.Do("PUT", "/storage/v1/lease/"+RandomSI(), nil, lease)
	check(t, "lease on an unknown storage index", st, err, http.StatusNotFound)
	si := RandomSI()
	doRTW(t, c, si, MutableSecrets(randBytes(32), randBytes(32), randBytes(32)), rtw(map[uint64]tv{0: writeOnly([]byte("d"))}), http.StatusOK)
	for range 2 {
		st, _, body, err := c.Do("PUT", "/storage/v1/lease/"+si, nil, lease)
		check(t, "lease renew", st, err, http.StatusNoContent)
		if len(body) != 0 {
			t.Fatalf("204 with a body %q", body)
		}
	}
}
