package publish_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/publish"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// unaskedShare is a real server that, from its second read-test-write
// on, fails the test and answers with the checkstring of a share it was
// not asked about.
type unaskedShare struct {
	publish.Storage
	calls atomic.Int32
}

func (u *unaskedShare) ReadTestWrite(ctx context.Context, si []byte, s grid.Secrets, tw map[uint64]grid.TestWrite, rv []grid.ReadVector) (*grid.RTWResult, error) {
	if u.calls.Add(1) == 1 {
		return u.Storage.ReadTestWrite(ctx, si, s, tw, rv)
	}
	cs := make([]byte, 41)
	cs[8] = 9 // seqnum 9
	return &grid.RTWResult{Data: map[uint64][][]byte{1 << 40: {cs}}}, nil
}

// TestLaterChunkAnswerNamesUnaskedShare: a server answering a later
// chunk's failed test with a share number it was not asked about (far
// past the encoding's N) costs the publish that server, named as a
// conflicting writer, not taken for a newer version and no panic.
func TestLaterChunkAnswerNamesUnaskedShare(t *testing.T) {
	defer publish.SetChunking(16<<10, 8<<10)()
	tg := testgrid.New(t, 1)
	cl := &publish.Clients{Options: &grid.Options{Retries: -1}}
	t.Cleanup(cl.Close)
	p := &publish.Publisher{Grid: tg.Grid(), Happy: 1, Dial: func(s *grid.ServerInfo) (publish.Storage, error) {
		st, err := cl.Dial(s)
		return &unaskedShare{Storage: st}, err
	}}
	_, err := p.Create(context.Background(), testgrid.Key(t), random(60<<10), publish.Params{Format: cap.SDMF, K: 1, N: 1})
	if err == nil {
		t.Fatal("publish succeeded on a server that failed our checkstring's test")
	}
	if !strings.Contains(err.Error(), "our shares changed while we wrote them") {
		t.Fatalf("error %q, want the server named as having changed our shares", err)
	}
}
