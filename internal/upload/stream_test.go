package upload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/chk"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
	"github.com/tahoe-watch/tahoe-watch/internal/upload"
)

// storedShares reads every share of storage index si from every server.
func storedShares(t *testing.T, tg *testgrid.Grid, si []byte) map[int][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[int][]byte{}
	for _, cl := range tg.Clients(nil) {
		nums, err := cl.ListShares(ctx, grid.Immutable, si)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nums {
			b, err := cl.ReadShare(ctx, grid.Immutable, si, n, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			out[int(n)] = b
		}
	}
	return out
}

// TestStreamedSharesMatchEncoder: the streamed upload stores, byte for
// byte, the shares the whole-file encoder makes (and so Tahoe's layout),
// and the same cap, at sizes around the segment boundary and of several
// segments.
func TestStreamedSharesMatchEncoder(t *testing.T) {
	tg := testgrid.New(t, 5)
	u := newUploader(t, tg.Grid(), 3, 4, 10)
	const seg = 128 << 10
	u.MaxSegmentSize = seg
	sizes := []int{0, 1, 56, seg - 1, seg, seg + 1, 3<<20 + 5}
	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			rand.Read(data)
			res, err := u.UploadFrom(context.Background(), bytes.NewReader(data), int64(size))
			if err != nil {
				t.Fatal(err)
			}
			if size <= 55 {
				if lit, ok := res.Cap.(*cap.LIT); !ok || !bytes.Equal(lit.Data, data) {
					t.Fatalf("%d bytes: cap %v, want a LIT cap of the data", size, res.Cap)
				}
				return
			}
			enc, err := chk.Encode(data, u.Convergence, chk.Params{K: 3, N: 10, MaxSegmentSize: seg})
			if err != nil {
				t.Fatal(err)
			}
			if want := cap.NewCHK(false, enc.Key, enc.UEBHash, 3, 10, enc.Size); res.Cap.String() != want.String() {
				t.Fatalf("cap %s, want %s", res.Cap, want)
			}
			got := storedShares(t, tg, enc.StorageIndex)
			if len(got) != 10 {
				t.Fatalf("%d shares stored, want 10", len(got))
			}
			for n, b := range got {
				if !bytes.Equal(b, enc.Shares[n]) {
					t.Errorf("share %d: %d bytes stored differ from the encoder's %d", n, len(b), len(enc.Shares[n]))
				}
			}
		})
	}
}

// TestServerDiesMidUpload: a server that stops answering after its shares
// are allocated loses them; the upload still succeeds on the other four
// (happy 4) and the file reads back.
func TestServerDiesMidUpload(t *testing.T) {
	tg := testgrid.New(t, 5)
	u := newUploader(t, tg.Grid(), 3, 4, 10)
	// The victim's connections are closed, so its requests fail at once;
	// the timeout only has to spare the others' 2 MiB writes, ten at a
	// time, under -race on a loaded machine.
	u.Timeout = 10 * time.Second
	data := make([]byte, 6<<20)
	rand.Read(data)
	victim := tg.Servers[0]
	r := &stopAfter{r: bytes.NewReader(data), after: 2 * (1 << 20), stop: victim.Stop}
	res, err := u.UploadFrom(context.Background(), r, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Happiness != 4 {
		t.Errorf("happiness %d, want 4: %v", res.Happiness, res.Placed)
	}
	if got := readCHK(t, tg, res.Cap.(*cap.CHK)); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
}

// stopAfter stops a server once the encoding pass (the second read) has
// passed offset after.
type stopAfter struct {
	r     *bytes.Reader
	after int64
	pass  int
	stop  func()
	done  bool
}

func (s *stopAfter) ReadAt(b []byte, off int64) (int, error) {
	if off == 0 {
		s.pass++
	}
	if s.pass == 2 && off >= s.after && !s.done {
		s.done = true
		s.stop()
	}
	return s.r.ReadAt(b, off)
}

// liar answers allocations with share numbers it was not asked about.
type liar struct{ upload.Storage }

func (l liar) Allocate(ctx context.Context, si []byte, s grid.Secrets, shares []uint64, size uint64) (*grid.Allocation, error) {
	a, err := l.Storage.Allocate(ctx, si, s, shares, size)
	if err != nil {
		return nil, err
	}
	a.Allocated = append(a.Allocated, 300, shares[0])
	a.AlreadyHave = append(a.AlreadyHave, 255)
	return a, nil
}

// TestLyingAllocation: a server claiming shares it was not asked about
// gains nothing (no share 300 or 255 counted, none written twice) and
// breaks nothing.
func TestLyingAllocation(t *testing.T) {
	tg := testgrid.New(t, 5)
	u := newUploader(t, tg.Grid(), 3, 5, 10)
	dial := u.Dial
	g := tg.Grid()
	u.Grid = g
	bad := g.Reachable()[0]
	u.Dial = func(s *grid.ServerInfo) (upload.Storage, error) {
		st, err := dial(s)
		if s == bad {
			return liar{st}, err
		}
		return st, err
	}
	data := make([]byte, 1<<20)
	rand.Read(data)
	res, err := u.Upload(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for name, nums := range res.Placed {
		for i, n := range nums {
			if n >= 10 || (i > 0 && nums[i-1] == n) {
				t.Errorf("%s placed %v", name, nums)
			}
		}
		total += len(nums)
	}
	if total != 10 || res.Happiness != 5 {
		t.Errorf("%d shares placed, happiness %d: %v", total, res.Happiness, res.Placed)
	}
	if got := readCHK(t, tg, res.Cap.(*cap.CHK)); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
}

// TestUploadFromShortInput: an input shorter than the size given fails
// the upload, for a LIT-sized file as for a CHK one, instead of storing
// zeros for the missing bytes.
func TestUploadFromShortInput(t *testing.T) {
	tg := testgrid.New(t, 5)
	u := newUploader(t, tg.Grid(), 3, 4, 10)
	for _, size := range []int{20, 4 << 10} {
		data := make([]byte, size)
		rand.Read(data)
		res, err := u.UploadFrom(context.Background(), bytes.NewReader(data[:size/2]), int64(size))
		if err == nil {
			t.Fatalf("%d bytes claimed, %d given: upload succeeded with cap %v", size, size/2, res.Cap)
		}
	}
}
