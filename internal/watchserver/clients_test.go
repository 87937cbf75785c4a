package watchserver

import (
	"fmt"
	"testing"
	"time"
)

// TestClientTableForgetsIdleClients: a client cycling source addresses
// leaves the hub's client table no larger than the clients that are
// connected or still refilling their subscribe rate: once a client has
// no connection and a full bucket, the next sweep forgets it; one that
// spent its burst is kept, so reconnecting buys no fresh burst.
func TestClientTableForgetsIdleClients(t *testing.T) {
	h := NewHub(newMemSource(), Options{SubscribeRate: 1, SubscribeBurst: 10})
	for i := range 1000 {
		c, limit := h.admit(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		if limit != "" {
			t.Fatalf("client %d refused by the %s limit", i, limit)
		}
		h.release(c)
	}
	spent, _ := h.admit("192.0.2.1")
	spent.rate.reserve(10)
	h.release(spent)
	h.mu.Lock()
	h.clients.lastSweep = time.Time{} // the next admit sweeps
	h.mu.Unlock()
	kept, _ := h.admit("192.0.2.2")
	defer h.release(kept)
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.clients.byKey); n != 2 {
		t.Fatalf("%d clients in the table after the sweep, want 2 (the connected one and the one refilling)", n)
	}
	if h.clients.byKey["192.0.2.1"] != spent {
		t.Fatal("the client that spent its burst was forgotten")
	}
}
