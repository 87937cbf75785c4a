package grid

import (
	"net/http"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// FuzzDecodeAnswers feeds arbitrary bytes to every decoder of server
// answers: none may panic, and what decodes must re-encode.
func FuzzDecodeAnswers(f *testing.F) {
	seeds := []any{
		shareSet{0, 3, 9},
		allocateResp{AlreadyHave: shareSet{1}, Allocated: shareSet{7}},
		writeResp{Required: []Range{{Begin: 16, End: 48}}},
		map[string]any{"success": true, "data": map[uint64][][]byte{0: {[]byte("foo")}}},
		map[string]any{"success": false, "data": []any{}},
		map[any]any{cbor.ByteString("application-version"): []byte("x")},
	}
	for _, s := range seeds {
		b, err := encMode.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v versionMsg
		_ = decodeCBOR(b, &v)
		var a allocateResp
		_ = decodeCBOR(b, &a)
		var s shareSet
		if decodeCBOR(b, &s) == nil {
			if _, err := encMode.Marshal(s); err != nil {
				t.Fatal(err)
			}
		}
		var w writeResp
		_ = decodeCBOR(b, &w)
		if r, err := decodeRTW(b); err == nil && r.Data == nil {
			t.Fatal("decodeRTW succeeded with nil Data")
		}
		h := http.Header{}
		h.Set("Content-Range", string(b))
		_ = checkContentRange(&reply{header: h, body: b}, 0, int64(len(b)))
	})
}
