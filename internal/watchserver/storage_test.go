package watchserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/storage"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
	"github.com/tahoe-watch/tahoe-watch/internal/watchproto"
)

// realShare returns the share data of one of Tahoe's SDMF shares, with its
// storage index and verification-key fingerprint.
func realShare(t testing.TB) (si, fp, data []byte) {
	const name = "dqrkoatek6jcaq4mqnlomig4wq"
	b := testutil.ReadTestdata(t, "grid", "shares", "storage1", name[:2], name, "0")
	m, err := container.ParseMutable(b)
	if err != nil {
		t.Fatal(err)
	}
	si, _ = base32.Decode(name)
	fp, _ = base32.Decode("ulcoxpkrq6iy3eah5ld6q7dmxre26ahfilbitjughysfwtfmkjga")
	return si, fp, bytes.Clone(m.Data())
}

// TestAttachToStorage runs the watch endpoint on the GBS storage server:
// a read-test-write through its backend reaches a subscriber dialled with
// the grid client's pinned TLS and swissnum.
func TestAttachToStorage(t *testing.T) {
	srv, err := storage.NewServer(storage.Config{BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	AttachToStorage(srv, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()

	si, fp, data := realShare(t)
	sec := storage.MutableSecrets{WriteEnabler: bytes.Repeat([]byte{1}, 32),
		RenewSecret: bytes.Repeat([]byte{2}, 32), CancelSecret: bytes.Repeat([]byte{3}, 32)}
	write := func(seq uint64) {
		binary.BigEndian.PutUint64(data[1:9], seq)
		ok, _, err := srv.Backend().ReadTestWrite(ctx, si, sec,
			map[int]storage.TestWrite{2: {Write: []storage.WriteVector{{Data: data}}}}, nil)
		if !ok || err != nil {
			t.Fatalf("write: %v %v", ok, err)
		}
	}
	write(5)

	gc := grid.New(srv.NURL(), nil)
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	c, err := watchproto.Dial(dctx, strings.Replace(gc.URL(watchproto.Path), "https://", "wss://", 1),
		watchproto.DialOptions{HTTPClient: gc.HTTPClient(), Swissnum: srv.Identity().Swissnum})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Subscribe(dctx, []watchproto.Sub{{SI: si, Fingerprint: fp, Seqnum: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Refused != "" || len(r.Shares) != 1 || r.Shares[0].Shnum != 2 || r.Shares[0].Seqnum != 5 {
		t.Fatalf("result %+v", r)
	}
	write(6)
	select {
	case n := <-c.Notices():
		if n.Shnum != 2 || n.Seqnum != 6 {
			t.Fatalf("notice %+v", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notice after a read-test-write")
	}
}
