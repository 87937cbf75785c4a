package publish

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// ErrUnchanged, returned by a Modify function, ends Modify without
// writing.
var ErrUnchanged = errors.New("unchanged")

// Settle is how long Modify waits, in total, for a newer version that is
// not yet recoverable (a publish in progress) before building on the
// newest recoverable one instead.
//
// The wait cannot be skipped on the strength of test vectors. A writer
// whose lead write landed has already won: when it then finds our newer
// version on its other servers it counts itself superseded and reports
// success (see Result.Superseded), and it cannot tell a writer that built
// on its version from one that did not. So if we built on the version
// before its pending one, its change would be lost while its caller was
// told it succeeded. A dead writer and a slow one look the same from
// here, so only time tells them apart: after a writer dies mid-publish,
// the next Modify waits up to Settle once and then proceeds.
var Settle = 10 * time.Second

// MaxAttempts bounds Modify's read-modify-write rounds.
const MaxAttempts = 200

// Get maps c's slot and reads its newest recoverable version.
func (p *Publisher) Get(ctx context.Context, c *cap.Mutable) ([]byte, *Map, *mapupdate.Version, error) {
	m, err := p.Map(ctx, c)
	if err != nil {
		return nil, nil, nil, err
	}
	best, err := m.best("publish.Get")
	if err != nil {
		return nil, m, best, err
	}
	b, err := p.Read(ctx, m, best)
	return b, m, best, err
}

// Modify is a read-modify-write of the mutable file c: it reads the
// newest version, calls f with its plaintext, and publishes what f
// returns as the next version. When another writer gets in first it
// starts over with a fresh read, so f sees every successful write and
// must be safe to call more than once. It waits (up to Settle) while a
// newer version is still being written, so as not to build on the one
// before it.
func (p *Publisher) Modify(ctx context.Context, c *cap.Mutable, f func(old []byte) ([]byte, error)) (*Result, error) {
	const op = "publish.Modify"
	var lastErr error
	var pending uint64  // an unrecoverable newer seqnum seen last round
	var since time.Time // when pending was first seen
	for attempt := range MaxAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, errkind.E(op, errkind.Other, ctx.Err())
			case <-time.After(backoff(attempt)):
			}
		}
		old, m, best, err := p.Get(ctx, c)
		if err != nil && !errkind.Is(err, errkind.Unrecoverable) && !errkind.Is(err, errkind.Corrupt) {
			return nil, err
		}
		// A newer version that is not yet recoverable is a publish in
		// progress: building on the older one would drop its change. Wait
		// for it, unless the same one stays stuck for Settle (its writer
		// died), or nothing at all is recoverable.
		if err != nil || best.ID.Seqnum < m.MaxSeqnum {
			if m.MaxSeqnum != pending || since.IsZero() {
				pending, since = m.MaxSeqnum, time.Now()
			}
			stuck := time.Since(since) >= Settle
			if err != nil {
				if stuck {
					return nil, err
				}
				lastErr = err
				continue
			}
			if !stuck {
				lastErr = errkind.E(op, errkind.Conflict, "version %d of %s is still being written", m.MaxSeqnum, cap.Abbrev(c))
				continue
			}
		}
		data, err := f(old)
		if errors.Is(err, ErrUnchanged) {
			return &Result{Cap: c, Seqnum: best.ID.Seqnum}, nil
		}
		if err != nil {
			return nil, err
		}
		res, err := p.Update(ctx, m, data)
		if errkind.Is(err, errkind.Conflict) {
			lastErr = err
			continue
		}
		return res, err
	}
	return nil, errkind.E(op, errkind.Conflict, "gave up after %d attempts: %w", MaxAttempts, lastErr)
}

// backoff is a jittered, growing delay: up to 5ms·2^attempt, capped at
// 250ms.
func backoff(attempt int) time.Duration {
	limit := 5 * time.Millisecond << min(attempt, 6)
	return min(time.Duration(rand.Int64N(int64(limit)))+time.Millisecond, 250*time.Millisecond)
}
