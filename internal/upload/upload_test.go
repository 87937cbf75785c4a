package upload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/chk"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/upload"
)

func newUploader(t testing.TB, g *grid.Grid, k, happy, n int) *upload.Uploader {
	cl := &publish.Clients{Options: &grid.Options{Retries: -1}}
	t.Cleanup(cl.Close)
	return &upload.Uploader{Grid: g, Dial: func(s *grid.ServerInfo) (upload.Storage, error) { return cl.Client(s) },
		Convergence: []byte("sixteen byte key sixteen byte ke"), K: k, Happy: happy, N: n}
}

// readCHK downloads every share of c from every server and decodes it.
func readCHK(t testing.TB, tg *testgrid.Grid, c *cap.CHK) []byte {
	t.Helper()
	ctx := context.Background()
	shares := map[int][]byte{}
	for _, cl := range tg.Clients(nil) {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second) // hung servers never answer
		nums, err := cl.ListShares(lctx, grid.Immutable, c.StorageIndex())
		cancel()
		if err != nil {
			continue
		}
		for _, n := range nums {
			b, err := cl.ReadShare(ctx, grid.Immutable, c.StorageIndex(), n, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			shares[int(n)] = b
		}
	}
	pt, err := chk.Decode(c.Key, chk.VerifyCap{UEBHash: c.UEBHash, K: c.K, N: c.N, Size: c.Size}, shares)
	if err != nil {
		t.Fatalf("decode %s from %d shares: %v", cap.Abbrev(c), len(shares), err)
	}
	return pt
}

func TestRoundTrip(t *testing.T) {
	tg := testgrid.New(t, 5)
	u := newUploader(t, tg.Grid(), 3, 4, 10)
	sizes := []int{0, upload.LITThreshold, upload.LITThreshold + 1, 1024, 1 << 20}
	if !testing.Short() {
		sizes = append(sizes, 20<<20)
	}
	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			rand.Read(data)
			res, err := u.Upload(context.Background(), data)
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			switch c := res.Cap.(type) {
			case *cap.LIT:
				if size > upload.LITThreshold {
					t.Fatalf("%d bytes became a LIT cap", size)
				}
				got = c.Data
			case *cap.CHK:
				if size <= upload.LITThreshold {
					t.Fatalf("%d bytes uploaded as CHK; Tahoe makes a LIT cap", size)
				}
				if res.Happiness != 5 {
					t.Errorf("happiness %d, want 5: %v", res.Happiness, res.Placed)
				}
				got = readCHK(t, tg, c)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("read back differs")
			}
			// Uploading again finds the shares already there: same cap.
			again, err := u.Upload(context.Background(), data)
			if err != nil || again.Cap.String() != res.Cap.String() {
				t.Fatalf("second upload: %v, cap %v vs %v", err, again, res.Cap)
			}
		})
	}
}

// TestConvergentCapMatchesEncoder: the cap is exactly the encoder's, so
// Tahoe, given the same secret and parameters, names the file the same.
func TestConvergentCapMatchesEncoder(t *testing.T) {
	tg := testgrid.New(t, 3)
	u := newUploader(t, tg.Grid(), 2, 3, 3)
	data := bytes.Repeat([]byte("tahoe"), 1000)
	res, err := u.Upload(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := chk.Encode(data, u.Convergence, chk.Params{K: 2, N: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := cap.NewCHK(false, enc.Key, enc.UEBHash, 2, 3, enc.Size)
	if res.Cap.String() != want.String() {
		t.Fatalf("cap %s, want %s", res.Cap, want)
	}
}

func TestNotHappy(t *testing.T) {
	tg := testgrid.New(t, 5)
	tg.Servers[1].Stop()
	tg.Servers[4].Stop()
	u := newUploader(t, tg.Grid(), 3, 4, 10)
	data := make([]byte, 4096)
	rand.Read(data)
	_, err := u.Upload(context.Background(), data)
	if !errkind.Is(err, errkind.Unreachable) {
		t.Fatalf("upload to 3 live servers with happy 4: %v", err)
	}
	t.Log(err)
	// With happy 3 it succeeds on the three that are left, all ten shares
	// placed on them.
	u.Happy = 3
	res, err := u.Upload(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, nums := range res.Placed {
		n += len(nums)
	}
	if res.Happiness != 3 || n < 10 {
		t.Errorf("happiness %d with %d shares placed: %v", res.Happiness, n, res.Placed)
	}
	if got := readCHK(t, tg, res.Cap.(*cap.CHK)); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	// More happiness than servers fails before any work, saying so.
	u.Happy = 7
	if _, err := u.Upload(context.Background(), data); err == nil {
		t.Fatal("happy 7 on a 5-server grid succeeded")
	}
}

func TestHungServer(t *testing.T) {
	tg := testgrid.New(t, 4)
	tg.AddHung()
	u := newUploader(t, tg.Grid(), 3, 4, 10)
	u.Timeout = 2 * time.Second // far above an honest answer even on a loaded CI machine
	data := bytes.Repeat([]byte("hung server "), 100)
	res, err := u.Upload(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if res.Happiness != 4 {
		t.Errorf("happiness %d: %v", res.Happiness, res.Placed)
	}
	if got := readCHK(t, tg, res.Cap.(*cap.CHK)); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
}
