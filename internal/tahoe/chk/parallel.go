package chk

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallel runs f(0) to f(count-1) on up to GOMAXPROCS goroutines, lower
// numbers first, and returns once all are done.
func parallel(count int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), count)
	if workers <= 1 {
		for i := range count {
			f(i)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for i := int(next.Add(1) - 1); i < count; i = int(next.Add(1) - 1) {
			f(i)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}
