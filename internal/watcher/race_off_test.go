//go:build !race

package watcher_test

const raceEnabled = false
