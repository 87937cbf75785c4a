//go:build race

package watcher_test

// raceEnabled scales long tests down: the race detector slows them 3-5x.
const raceEnabled = true
