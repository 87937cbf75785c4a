package watchserver

import (
	"context"
	"time"
)

// limiter is a token bucket that delays, rather than refuses, work beyond
// its rate. It is used by one goroutine.
type limiter struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// wait takes n tokens, waiting under ctx until they have accumulated.
func (l *limiter) wait(ctx context.Context, n int) error {
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(-l.tokens / l.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
