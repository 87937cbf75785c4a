package watchserver

import (
	"context"
	"sync"
	"time"
)

// limiter is a token bucket that delays, rather than refuses, work beyond
// its rate. One client's connections share it.
type limiter struct {
	rate  float64 // tokens per second
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// reserve takes n tokens, going into debt if need be, and returns how
// long the caller must wait before using them.
func (l *limiter) reserve(n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}

// full reports whether the bucket has refilled to its burst by now.
func (l *limiter) full(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tokens+now.Sub(l.last).Seconds()*l.rate >= l.burst
}

// wait takes n tokens, waiting under ctx until they have accumulated.
func (l *limiter) wait(ctx context.Context, n int) error {
	d := l.reserve(n)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
