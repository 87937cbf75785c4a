//go:build race

package upload_test

// raceEnabled: the race detector multiplies memory use, so the bounded
// memory test runs only without it.
const raceEnabled = true
