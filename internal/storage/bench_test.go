package storage_test

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/storage/storagetest"
)

// benchSlot starts a server with one 64 KiB mutable share.
func benchSlot(b *testing.B) (*storagetest.Client, string, []string) {
	_, n := storagetest.Start(b, b.TempDir())
	c := storagetest.NewClient(storagetest.TargetOf(n))
	si := storagetest.RandomSI()
	sec := storagetest.MutableSecrets(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32))
	if st, _, _, err := c.Do("POST", "/storage/v1/mutable/"+si+"/read-test-write", rtwBody([]byte{}, make([]byte, 64<<10)), sec); err != nil || st != 200 {
		b.Fatalf("create: %d %v", st, err)
	}
	return c, si, sec
}

// BenchmarkRangeRead1KiB measures 1 KiB range reads of a mutable share
// over loopback TLS with 16 concurrent clients (reads/s is reported).
func BenchmarkRangeRead1KiB(b *testing.B) {
	c, si, _ := benchSlot(b)
	var i atomic.Int64
	b.SetParallelism(16 / max(1, runtime.GOMAXPROCS(0)))
	b.SetBytes(1024)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			off := (i.Add(1) % 63) * 1024
			st, _, body, err := c.Do("GET", "/storage/v1/mutable/"+si+"/0", nil, nil, fmt.Sprintf("Range: bytes=%d-%d", off, off+1023))
			if err != nil || st != http.StatusPartialContent || len(body) != 1024 {
				b.Errorf("read: %d %v", st, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

// BenchmarkReadTestWrite16 measures read-test-write latency (each an
// fsynced commit) over loopback TLS with 16 concurrent clients, each on
// its own share of one slot, so they contend for the slot's lock.
func BenchmarkReadTestWrite16(b *testing.B) {
	c, si, sec := benchSlot(b)
	var i atomic.Int64
	b.SetParallelism(16 / max(1, runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := i.Add(1) // this client's own share number, n % 16
		data := bytes.Repeat([]byte{byte(n)}, 1024)
		body := storagetest.MustCBOR(map[string]any{"test-write-vectors": map[uint64]any{uint64(n % 16): map[string]any{
			"test": []any{}, "write": []any{map[string]any{"offset": uint64(0), "data": data}}, "new-length": nil}},
			"read-vector": []any{}})
		for pb.Next() {
			st, _, _, err := c.Do("POST", "/storage/v1/mutable/"+si+"/read-test-write", body, sec)
			if err != nil || st != http.StatusOK {
				b.Errorf("rtw: %d %v", st, err)
				return
			}
		}
	})
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N)*16, "ms/op-latency")
}
