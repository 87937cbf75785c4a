package watcher

import "sync"

// downSet holds the servers verifications skip: those that did not
// answer a map, until they answer again (a poll, a dial, their version
// document) or the next refresh, which asks every server.
type downSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (d *downSet) mark(id string, down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ids == nil {
		d.ids = map[string]bool{}
	}
	if down {
		d.ids[id] = true
	} else {
		delete(d.ids, id)
	}
}

// has reports whether id is known to be down.
func (d *downSet) has(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ids[id]
}

// clear forgets every server: the next maps ask them all.
func (d *downSet) clear() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.ids)
}

// markUp records that a server answered.
func (w *Watcher) markUp(id string) { w.down.mark(id, false) }
