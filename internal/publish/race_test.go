//go:build race

package publish_test

// raceEnabled: the race detector multiplies memory use and time, so the
// big publishes run only without it.
const raceEnabled = true
