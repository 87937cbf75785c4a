// Command plant is a benchmark tool, not part of tahoe-watch: it plants
// N distinct 3-of-5 SDMF mutable files straight into up to five storage
// node directories (share i in the i-th), exactly as
// testgrid.PlantMutables writes them for the in-process benchmarks, and
// writes their read caps, one per line, to a cap file for
// `tahoe-watch watch --cap-file`. scripts/bench-watch runs it.
//
// Publishing 100,000 files through the protocol would take far longer
// than the benchmark, so the shares are written to disk directly: real
// Tahoe mutable shares, each file with its own write key, storage index,
// contents, seqnum and signature, the signing keys drawn from a pool
// (-keys, default 32: generating an RSA key takes about 100 ms), so the
// contents decrypt under the signing key's keys, not the cap's (see
// testgrid.PlantMutables): fine for watching, not for reading. Files
// are encoded and written in parallel (twice GOMAXPROCS goroutines); the
// RSA signature per file is most of the cost.
//
//	go run ./internal/testgrid/cmd/plant -n 10000 -caps caps.txt DIR1 DIR2 DIR3 DIR4 DIR5
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

func main() {
	n := flag.Int("n", 1000, "plant `N` mutable files")
	keys := flag.Int("keys", 32, "draw the signing keys from a pool of `K`")
	capsFile := flag.String("caps", "", "write the read caps to `FILE`, one per line (required)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: plant -n N -caps FILE NODE_DIR...  (at most %d node directories)\n", testgrid.PlantShares)
		flag.PrintDefaults()
	}
	flag.Parse()
	if *capsFile == "" || flag.NArg() == 0 || *n < 1 || *keys < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, flag.Args(), *n, *keys, *capsFile); err != nil {
		fmt.Fprintln(os.Stderr, "plant:", err)
		os.Exit(1)
	}
}

// run generates the keys, plants n files on bases and writes their caps.
func run(ctx context.Context, bases []string, n, nkeys int, capsFile string) error {
	start := time.Now()
	keys, err := testgrid.GenerateKeys(ctx, nkeys)
	if err != nil {
		return err
	}
	gen := time.Since(start)
	caps, err := testgrid.PlantMutables(ctx, bases, keys, n)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(capsFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, c := range caps {
		fmt.Fprintln(w, c.String())
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "planted %d mutables on %d servers in %.1f s (%d keys in %.1f s)\n",
		n, len(bases), time.Since(start).Seconds(), nkeys, gen.Seconds())
	return nil
}
