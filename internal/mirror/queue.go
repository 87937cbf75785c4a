package mirror

import (
	"sync"

	"github.com/tahoe-watch/tahoe-watch/internal/events"
)

// queue is an unbounded FIFO of watcher events, so the watcher never
// waits for a download.
type queue struct {
	mu     sync.Mutex
	items  []events.Event
	signal chan struct{}
}

func newQueue() *queue { return &queue{signal: make(chan struct{}, 1)} }

func (q *queue) push(e events.Event) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue) pop() (events.Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return events.Event{}, false
	}
	e := q.items[0]
	q.items = q.items[1:]
	return e, true
}
