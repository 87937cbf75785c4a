//go:build !unix

package upload_test

import "time"

// processCPU cannot tell here.
func processCPU() (time.Duration, bool) { return 0, false }
