package mirror

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
)

// ProgressEvent is a snapshot of a full reconcile, reported with --json
// as {"type":"progress",...}.
type ProgressEvent struct {
	Type       events.Type `json:"type"` // always Progress
	Time       time.Time   `json:"time"`
	Files      int64       `json:"files"`       // files found so far
	FilesDone  int64       `json:"files_done"`  // downloaded or already current
	Skipped    int64       `json:"skipped"`     // of FilesDone, already current
	Bytes      int64       `json:"bytes"`       // bytes of the files found (mutables once mapped)
	BytesDone  int64       `json:"bytes_done"`  // bytes downloaded or already current
	Rate       float64     `json:"rate"`        // bytes downloaded per second so far
	ETASeconds float64     `json:"eta_seconds"` // -1 if unknown
	Done       bool        `json:"done"`
	// Upload is set on the progress of one large upload in two-way sync
	// (a snapshot as it starts and a Done one when it is linked): the
	// file's path. Files and Bytes then count that file only.
	Upload string `json:"upload,omitempty"`
}

// progress counts a reconcile's files and bytes.
type progress struct {
	now                          func() time.Time
	began                        time.Time
	files, done, skipped         atomic.Int64
	bytes, bytesDone, downloaded atomic.Int64
}

// addTotal counts a file found with its size (0 for a mutable, whose
// size addBytes adds once it is mapped).
func (p *progress) addTotal(n int64) { p.files.Add(1); p.bytes.Add(n) }
func (p *progress) addBytes(n int64) { p.bytes.Add(n) }

func (p *progress) skip(n int64) { p.done.Add(1); p.skipped.Add(1); p.bytesDone.Add(n) }
func (p *progress) fileDone()    { p.done.Add(1) }

// snapshot returns the current counts.
func (p *progress) snapshot(done bool) ProgressEvent {
	now := p.now()
	e := ProgressEvent{Type: Progress, Time: now, Files: p.files.Load(), FilesDone: p.done.Load(),
		Skipped: p.skipped.Load(), Bytes: p.bytes.Load(), BytesDone: p.bytesDone.Load(), ETASeconds: -1, Done: done}
	if secs := now.Sub(p.began).Seconds(); secs > 0 {
		e.Rate = float64(p.downloaded.Load()) / secs
	}
	if e.Rate > 0 && e.Bytes >= e.BytesDone {
		e.ETASeconds = float64(e.Bytes-e.BytesDone) / e.Rate
	}
	if done {
		e.ETASeconds = 0
	}
	return e
}

// start calls report every interval until the returned stop, which
// reports a last, Done snapshot.
func (p *progress) start(report func(ProgressEvent), every time.Duration) (stop func()) {
	p.began = p.now()
	if report == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				report(p.snapshot(false))
			}
		}
	}()
	return func() {
		close(quit)
		wg.Wait()
		report(p.snapshot(true))
	}
}

// progressWriter counts downloaded bytes.
type progressWriter struct {
	w io.Writer
	p *progress
}

func (pw *progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.bytesDone.Add(int64(n))
	pw.p.downloaded.Add(int64(n))
	return n, err
}
