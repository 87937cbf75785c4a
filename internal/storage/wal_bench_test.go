package storage

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// BenchmarkChunkedMutableWrite measures the server side of a chunked
// MDMF publish without the network: one storage index, two shares, each
// written in read-test-writes of 0.8 or 1.6 MiB per share (a streamed
// 3-of-10 publish on five servers sends 8 or 16 MiB batches so) of 21
// MiB shares, the first request of each version shrinking the shares as
// publish does. Overwrite: the first version creates the shares, the
// next ones overwrite them; create: every version is a new storage index
// (what a fresh put costs).
func BenchmarkChunkedMutableWrite(b *testing.B) {
	for _, fresh := range []bool{false, true} {
		for _, chunk := range []int{800 << 10, 1600 << 10} {
			name := map[bool]string{false: "overwrite", true: "create"}[fresh]
			b.Run(fmt.Sprintf("%s/chunk=%dKiB", name, chunk>>10), func(b *testing.B) { benchChunked(b, chunk, fresh) })
		}
	}
}

func benchChunked(b *testing.B, chunk int, fresh bool) {
	const share = 21 << 20
	be := newBackend(b)
	si := bytes.Repeat([]byte{9}, 16)
	sec := MutableSecrets{WriteEnabler: bytes.Repeat([]byte{1}, 32), RenewSecret: bytes.Repeat([]byte{2}, 32), CancelSecret: bytes.Repeat([]byte{3}, 32)}
	data := bytes.Repeat([]byte{7}, chunk)
	ctx := context.Background()
	b.SetBytes(2 * share)
	for i := 0; b.Loop(); i++ {
		if fresh {
			si = bytes.Repeat([]byte{byte(i), byte(i >> 8), 9}, 6)[:16]
		}
		for off := 0; off < share; off += chunk {
			tw := map[int]TestWrite{}
			for n := range 2 {
				v := TestWrite{Write: []WriteVector{{Offset: uint64(off), Data: data}}}
				if off == 0 {
					end := uint64(chunk)
					v.NewLength = &end
				}
				tw[n] = v
			}
			if ok, _, err := be.ReadTestWrite(ctx, si, sec, tw, []ReadVector{{0, 100}}); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	}
}
