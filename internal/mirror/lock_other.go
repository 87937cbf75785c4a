//go:build !unix

package mirror

import (
	"os"
	"path/filepath"
)

// lockDir creates dir/lock; other systems get no exclusion yet.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
}
