package storage

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"
)

// TestSecretErrorsEchoNoSecret: a malformed X-Tahoe-Authorization value
// is refused without quoting it, so a secret sent in the wrong shape
// reaches neither the answer nor the log.
func TestSecretErrorsEchoNoSecret(t *testing.T) {
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
	for _, v := range []string{secret, "lease-renew-secret-but-wrong" + secret, secret + " " + secret, "upload-secret"} {
		h := http.Header{}
		h.Add("X-Tahoe-Authorization", v)
		_, err := parseSecrets(h, secretUpload)
		if err == nil {
			t.Fatalf("%q accepted", v)
		}
		if strings.Contains(err.Error(), secret[:12]) {
			t.Errorf("%q: error shows the secret: %v", v, err)
		}
	}
}

// TestImmutablePatchBoundedMemory: a PATCH whose Content-Range claims far
// more than its body holds is refused without allocating the claimed size
// (it used to allocate up to 1 GiB, and panic beyond it, before reading).
func TestImmutablePatchBoundedMemory(t *testing.T) {
	s := &Server{}
	x := &call{si: bytes.Repeat([]byte{1}, 16), shnum: 0, secrets: secrets{secretUpload: []byte("u")}}
	if _, _, err := s.writeImmutableBody(strings.NewReader("x"), x, 0, 1<<62); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("a 2^62-byte claim: %v", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := s.writeImmutableBody(strings.NewReader("x"), x, 0, 1<<30)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "shorter") {
		t.Fatalf("a 1 GiB claim with a 1-byte body: %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("a 1 GiB claim with a 1-byte body allocated %d bytes, want at most one piece", got)
	}
}

// TestBodyRoomBoundsConcurrentBodies: read-test-write bodies in memory
// are bounded across requests; one past the bound waits, and gives up
// with 503 when its client does.
func TestBodyRoomBoundsConcurrentBodies(t *testing.T) {
	s := &Server{bodies: semaphore.NewWeighted(maxRTWBody)}
	big := httptest.NewRequest("POST", "/", nil)
	big.ContentLength = maxRTWBody
	release, err := s.bodyRoom(big)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	small := httptest.NewRequest("POST", "/", nil).WithContext(ctx)
	small.ContentLength = 1 << 20
	if _, err := s.bodyRoom(small); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("a second body past the bound: %v", err)
	}
	release()
	small = httptest.NewRequest("POST", "/", nil)
	small.ContentLength = 1 << 20
	if release, err = s.bodyRoom(small); err != nil {
		t.Fatalf("after the first body is done: %v", err)
	}
	release()
}
