package storage

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// Names of the secrets carried in X-Tahoe-Authorization headers.
const (
	secretLeaseRenew   = "lease-renew-secret"
	secretLeaseCancel  = "lease-cancel-secret"
	secretUpload       = "upload-secret"
	secretWriteEnabler = "write-enabler"
)

// authenticate answers 401, before anything else, to requests without
// "Authorization: Tahoe-LAFS <base64 swissnum>".
func (s *Server) authenticate(next http.Handler) http.Handler {
	want := []byte("Tahoe-LAFS " + base64.StdEncoding.EncodeToString([]byte(s.id.Swissnum)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			http.Error(w, "wrong or missing Authorization header", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// secrets are the decoded X-Tahoe-Authorization secrets of a request.
type secrets map[string][]byte

// parseSecrets decodes the X-Tahoe-Authorization headers, which must
// carry exactly the required secrets, each once, non-empty base64, lease
// secrets and write enablers 32 bytes long. Any failure is the
// protocol's 400.
func parseSecrets(h http.Header, required ...string) (secrets, error) {
	out := secrets{}
	for _, v := range h.Values("X-Tahoe-Authorization") {
		kind, val, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok {
			// No kind: the whole value may be a secret, so none of it is
			// echoed into the answer or the log.
			return nil, fmt.Errorf("an X-Tahoe-Authorization header is not \"KIND BASE64\"")
		}
		if !contains(required, kind) {
			return nil, fmt.Errorf("unexpected X-Tahoe-Authorization secret kind %q (want %v)", clipKind(kind), required)
		}
		if _, dup := out[kind]; dup {
			return nil, fmt.Errorf("secret %s given twice", kind)
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(val))
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("secret %s is not non-empty base64", kind)
		}
		if kind != secretUpload && len(b) != 32 {
			return nil, fmt.Errorf("secret %s must be 32 bytes, not %d", kind, len(b))
		}
		out[kind] = b
	}
	if len(out) != len(required) {
		return nil, fmt.Errorf("expected secrets %v", required)
	}
	return out, nil
}

// clipKind names an unknown secret kind in an error only if it looks like
// one (a short lower-case word): anything else may be a misplaced secret.
func clipKind(kind string) string {
	if len(kind) > 24 || strings.Trim(kind, "abcdefghijklmnopqrstuvwxyz-") != "" {
		return "(not shown)"
	}
	return kind
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
