package storage_test

import (
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	_, n := storagetest.Start(t, t.TempDir())
	storagetest.Run(t, storagetest.TargetOf(n))
}
