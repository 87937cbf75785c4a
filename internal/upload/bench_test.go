package upload_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

// BenchmarkUploadCHK20MiB: encode and place a new 20 MiB CHK file, 3-of-10
// happy 5, on five loopback servers (a fresh convergence secret each time,
// so nothing is already there). Besides the wall time it reports the CPU
// time of the whole process per upload (client and servers: cpu-ms/op),
// which the load of other work on the machine disturbs less.
func BenchmarkUploadCHK20MiB(b *testing.B) {
	tg := testgrid.New(b, 5)
	u := newUploader(b, tg.Grid(), 3, 5, 10)
	data := make([]byte, 20<<20)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	cpu0, ok := processCPU()
	for b.Loop() {
		rand.Read(u.Convergence)
		if _, err := u.Upload(context.Background(), data); err != nil {
			b.Fatal(err)
		}
	}
	if cpu1, _ := processCPU(); ok {
		b.ReportMetric(float64((cpu1-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}
