package storage_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/tahoe-watch/tahoe-watch/internal/storage/storagetest"
)

type rtwResult struct {
	Success bool                `cbor:"success"`
	Data    map[uint64][][]byte `cbor:"data"`
}

// rtwBody writes data to share 0 if it currently holds exactly expect.
func rtwBody(expect, data []byte) []byte {
	test := []any{map[string]any{"offset": uint64(0), "size": uint64(len(expect) + 1), "specimen": expect}}
	tw := map[uint64]any{0: map[string]any{"test": test,
		"write": []any{map[string]any{"offset": uint64(0), "data": data}}, "new-length": uint64(len(data))}}
	return storagetest.MustCBOR(map[string]any{"test-write-vectors": tw, "read-vector": []any{}})
}

// TestConcurrentReadTestWrites races 100 writers on one slot over
// loopback TLS. Each reads the share and writes only if it still holds
// what it read. The winners must form one chain from the initial value
// (no two winners read the same value) ending at the final share.
func TestConcurrentReadTestWrites(t *testing.T) {
	_, n := storagetest.Start(t, t.TempDir())
	c := storagetest.NewClient(storagetest.TargetOf(n))
	si := storagetest.RandomSI()
	sec := storagetest.MutableSecrets(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32))
	path := "/storage/v1/mutable/" + si
	initial := []byte("initial")
	if st, _, _, err := c.Do("POST", path+"/read-test-write", rtwBody([]byte{}, initial), sec); err != nil || st != 200 {
		t.Fatalf("create: %d %v", st, err)
	}
	const writers = 100
	type win struct{ read, wrote string }
	var mu sync.Mutex
	var wins []win
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _, cur, err := c.Do("GET", path+"/0", nil, nil)
			if err != nil || st != http.StatusOK {
				t.Errorf("read: %d %v", st, err)
				return
			}
			mine := bytes.Repeat([]byte(fmt.Sprintf("writer-%03d|", i)), 50+i)
			st, _, body, err := c.Do("POST", path+"/read-test-write", rtwBody(cur, mine), sec)
			var r rtwResult
			if err != nil || st != http.StatusOK || cbor.Unmarshal(body, &r) != nil {
				t.Errorf("rtw: %d %v", st, err)
				return
			}
			if r.Success {
				mu.Lock()
				wins = append(wins, win{string(cur), string(mine)})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	_, _, final, _ := c.Do("GET", path+"/0", nil, nil)
	next := map[string]string{}
	for _, w := range wins {
		if _, dup := next[w.read]; dup {
			t.Fatalf("two writers succeeded testing for the same value %.20q", w.read)
		}
		next[w.read] = w.wrote
	}
	at, steps := string(initial), 0
	for ; steps < len(wins); steps++ {
		nx, ok := next[at]
		if !ok {
			t.Fatalf("chain of winners broken after %d of %d steps", steps, len(wins))
		}
		at = nx
	}
	if len(wins) == 0 || at != string(final) {
		t.Fatalf("%d winners; final share is not the last winner's value", len(wins))
	}
	t.Logf("%d of %d writers won", len(wins), writers)
}
