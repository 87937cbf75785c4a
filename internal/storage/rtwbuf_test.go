package storage_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/storage/storagetest"
)

// TestPooledBuffersNotShared: read-test-writes of the same size, many at
// once on storage indexes of their own (their bodies and write vectors
// decoded into pooled buffers), each leave their own bytes, read back
// whole after all of them ended.
func TestPooledBuffersNotShared(t *testing.T) {
	_, n := storagetest.Start(t, t.TempDir())
	c := storagetest.NewClient(storagetest.TargetOf(n))
	sec := storagetest.MutableSecrets(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32))
	const writers, rounds, size = 8, 4, 300 << 10
	sis := make([]string, writers)
	want := make([][]byte, writers)
	var wg sync.WaitGroup
	for w := range writers {
		sis[w] = storagetest.RandomSI()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				data := bytes.Repeat([]byte{byte(w*rounds + r + 1)}, size)
				body := storagetest.MustCBOR(map[string]any{"test-write-vectors": map[uint64]any{0: map[string]any{
					"test": []any{}, "write": []any{map[string]any{"offset": uint64(r * size), "data": data}}, "new-length": nil}},
					"read-vector": []any{}})
				if st, _, _, err := c.Do("POST", "/storage/v1/mutable/"+sis[w]+"/read-test-write", body, sec); err != nil || st != http.StatusOK {
					t.Errorf("writer %d round %d: %d %v", w, r, st, err)
					return
				}
				want[w] = append(want[w], data...)
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		st, _, got, err := c.Do("GET", "/storage/v1/mutable/"+sis[w]+"/0", nil, nil)
		if err != nil || st != http.StatusOK || !bytes.Equal(got, want[w]) {
			t.Fatalf("writer %d: %d %v, read %d bytes, %s", w, st, err, len(got), firstDiff(got, want[w]))
		}
	}
}

func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at %d", i)
		}
	}
	return "one is a prefix of the other"
}
