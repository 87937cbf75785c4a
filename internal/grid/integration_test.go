package grid

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http/httptrace"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/storage/storagetest"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestAgainstStorageServer drives every endpoint of tahoe-watch's own GBS
// server through the client.
func TestAgainstStorageServer(t *testing.T) {
	_, n := storagetest.Start(t, t.TempDir())
	info := FromNURL(n)
	c, err := info.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxTimeout(t, 30*time.Second)

	v, err := c.Version(ctx)
	if err != nil || v.MaximumImmutableShareSize == 0 || len(v.ApplicationVersion) == 0 {
		t.Fatalf("version %+v, %v", v, err)
	}
	t.Run("immutable", func(t *testing.T) { testImmutable(t, ctx, c) })
	t.Run("mutable", func(t *testing.T) { testMutable(t, ctx, c, info) })
	t.Run("reuse", func(t *testing.T) { testReuse(t, ctx, c) })
}

func testImmutable(t *testing.T, ctx context.Context, c *Client) {
	si := random(t, 16)
	lease := Secrets{LeaseRenew: random(t, 32), LeaseCancel: random(t, 32), Upload: random(t, 32)}
	data := []byte("twenty bytes of data")
	a, err := c.Allocate(ctx, si, lease, []uint64{0, 1}, uint64(len(data)))
	if err != nil || !slices.Equal(a.Allocated, []uint64{0, 1}) || len(a.AlreadyHave) != 0 {
		t.Fatalf("allocate %+v, %v", a, err)
	}
	p, err := c.WriteShare(ctx, si, 0, lease.Upload, 0, data[:8])
	if err != nil || p.Done || len(p.Required) != 1 || p.Required[0] != (Range{Begin: 8, End: 20}) {
		t.Fatalf("first chunk: %+v, %v", p, err)
	}
	if p, err = c.WriteShare(ctx, si, 0, lease.Upload, 8, data[8:]); err != nil || !p.Done {
		t.Fatalf("last chunk: %+v, %v", p, err)
	}
	// Share 1: a conflicting rewrite, then abort.
	if _, err := c.WriteShare(ctx, si, 1, lease.Upload, 0, []byte("aaaa")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteShare(ctx, si, 1, lease.Upload, 0, []byte("bbbb")); !errkind.Is(err, errkind.Conflict) {
		t.Fatalf("conflicting write: %v", err)
	}
	if _, err := c.WriteShare(ctx, si, 1, random(t, 32), 4, []byte("cccc")); !errkind.Is(err, errkind.Auth) {
		t.Fatalf("write with the wrong upload secret: %v", err)
	}
	if err := c.AbortUpload(ctx, si, 1, lease.Upload); err != nil {
		t.Fatal(err)
	}
	if err := c.AbortUpload(ctx, si, 1, lease.Upload); err == nil {
		t.Fatal("second abort succeeded")
	}
	a, err = c.Allocate(ctx, si, lease, []uint64{0}, uint64(len(data)))
	if err != nil || !slices.Equal(a.AlreadyHave, []uint64{0}) {
		t.Fatalf("re-allocate %+v, %v", a, err)
	}
	if got, err := c.ListShares(ctx, Immutable, si); err != nil || !slices.Equal(got, []uint64{0}) {
		t.Fatalf("list %v, %v", got, err)
	}
	if got, _ := c.ListShares(ctx, Immutable, random(t, 16)); len(got) != 0 {
		t.Fatalf("list of unknown index: %v", got)
	}
	for _, r := range []struct {
		off, n int64
		want   []byte
	}{{0, 20, data}, {4, 6, data[4:10]}, {15, 100, data[15:]}, {20, 5, []byte{}}, {0, -1, data}} {
		got, err := c.ReadShare(ctx, Immutable, si, 0, r.off, r.n)
		if err != nil || !bytes.Equal(got, r.want) {
			t.Errorf("read(%d,%d) = %q, %v; want %q", r.off, r.n, got, err, r.want)
		}
	}
	if _, err := c.ReadShare(ctx, Immutable, si, 7, 0, 10); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("read of a missing share: %v", err)
	}
	if err := c.AdviseCorrupt(ctx, Immutable, si, 0, "block hash mismatch"); err != nil {
		t.Error(err)
	}
	if err := c.AdviseCorrupt(ctx, Immutable, si, 9, "no such share"); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("corrupt advisory for a missing share: %v", err)
	}
	if err := c.RenewLease(ctx, si, Secrets{LeaseRenew: random(t, 32), LeaseCancel: random(t, 32)}); err != nil {
		t.Error(err)
	}
	if err := c.RenewLease(ctx, random(t, 16), lease); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("lease on an unknown index: %v", err)
	}
}

func testMutable(t *testing.T, ctx context.Context, c *Client, info *ServerInfo) {
	si := random(t, 16)
	writekey := random(t, 16)
	sec := Secrets{WriteEnabler: hashes.WriteEnabler(writekey, info.WriteEnablerID()),
		LeaseRenew: random(t, 32), LeaseCancel: random(t, 32)}
	ten := uint64(10)
	create := map[uint64]TestWrite{
		0: {Test: []TestVector{{Offset: 0, Size: 1}}, Write: []WriteVector{{Data: []byte("xxxxxxxxxx")}}, NewLength: &ten},
		3: {Write: []WriteVector{{Offset: 2, Data: []byte("three")}}},
	}
	r, err := c.ReadTestWrite(ctx, si, sec, create, []ReadVector{{Offset: 0, Size: 4}})
	if err != nil || !r.Success {
		t.Fatalf("create: %+v, %v", r, err)
	}
	// The same "must be empty" test now fails, reads back, and writes nothing.
	r, err = c.ReadTestWrite(ctx, si, sec, create, []ReadVector{{Offset: 0, Size: 4}, {Offset: 8, Size: 10}})
	if err != nil || r.Success || string(r.Data[0][0]) != "xxxx" || string(r.Data[0][1]) != "xx" {
		t.Fatalf("failed test: %+v, %v", r, err)
	}
	update := map[uint64]TestWrite{0: {Test: []TestVector{{Offset: 0, Size: 2, Specimen: []byte("xx")}},
		Write: []WriteVector{{Offset: 0, Data: []byte("yy")}}}}
	if r, err = c.ReadTestWrite(ctx, si, sec, update, nil); err != nil || !r.Success {
		t.Fatalf("update: %+v, %v", r, err)
	}
	wrong := sec
	wrong.WriteEnabler = random(t, 32)
	if _, err := c.ReadTestWrite(ctx, si, wrong, update, nil); !errkind.Is(err, errkind.Auth) {
		t.Fatalf("wrong write enabler: %v", err)
	}
	if got, err := c.ListShares(ctx, Mutable, si); err != nil || !slices.Equal(got, []uint64{0, 3}) {
		t.Fatalf("list %v, %v", got, err)
	}
	if got, err := c.ReadShare(ctx, Mutable, si, 0, 0, 100); err != nil || string(got) != "yyxxxxxxxx" {
		t.Fatalf("read %q, %v", got, err)
	}
	if got, err := c.ReadShare(ctx, Mutable, si, 3, 0, -1); err != nil || string(got) != "\x00\x00three" {
		t.Fatalf("read share 3: %q, %v", got, err)
	}
	if err := c.AdviseCorrupt(ctx, Mutable, si, 3, "bad signature"); err != nil {
		t.Error(err)
	}
	if err := c.RenewLease(ctx, si, sec); err != nil {
		t.Error(err)
	}
}

// testReuse reads concurrently and checks keep-alive connections are reused.
func testReuse(t *testing.T, ctx context.Context, c *Client) {
	si := random(t, 16)
	we := random(t, 32)
	sec := Secrets{WriteEnabler: we, LeaseRenew: random(t, 32), LeaseCancel: random(t, 32)}
	if _, err := c.ReadTestWrite(ctx, si, sec, map[uint64]TestWrite{0: {Write: []WriteVector{{Data: random(t, 4096)}}}}, nil); err != nil {
		t.Fatal(err)
	}
	var fresh, reused atomic.Int32
	trace := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if i.Reused {
			reused.Add(1)
		} else {
			fresh.Add(1)
		}
	}})
	const workers, each = 4, 25
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := c.ReadShare(trace, Mutable, si, 0, int64(i*100), 100); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d reads in %v: %d new connections, %d reused", workers*each, time.Since(start), fresh.Load(), reused.Load())
	if fresh.Load() > workers+1 {
		t.Errorf("%d new connections for %d workers: keep-alive is not working", fresh.Load(), workers)
	}
}
