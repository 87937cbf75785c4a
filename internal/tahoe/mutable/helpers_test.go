package mutable

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/container"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
	"github.com/tahoe-watch/tahoe-watch/internal/testutil"
)

// containerData returns the share data of an on-disk container file.
func containerData(t testing.TB, file []byte) []byte {
	t.Helper()
	m, err := container.ParseMutable(file)
	if err != nil {
		t.Fatalf("not a mutable container (%d bytes): %v", len(file), err)
	}
	return m.Data()
}

// capKeys splits a write or read cap ("URI:<kind>:<key>:<fingerprint>")
// into its readkey and fingerprint; writekey is nil for a read cap.
func capKeys(t testing.TB, c string) (writekey, readkey, fp []byte) {
	t.Helper()
	f := strings.Split(c, ":")
	if len(f) != 4 || f[0] != "URI" {
		t.Fatalf("unexpected cap %q", c)
	}
	key, err := base32.DecodeLen(f[2], 16)
	if err != nil {
		t.Fatal(err)
	}
	if fp, err = base32.DecodeLen(f[3], 32); err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(f[1], "-RO") || f[1] == "SSK-RO" {
		return nil, key, fp
	}
	return key, hashes.SSKReadkey(key), fp
}

// oldSDMF is testdata/sdmf-old-shares.json.
type oldSDMF struct {
	Cap       string
	Plaintext []byte
	Shares    map[int][]byte // share data, container stripped
}

func loadOldSDMF(t testing.TB) *oldSDMF {
	t.Helper()
	var raw struct {
		Cap       string            `json:"cap"`
		Plaintext string            `json:"plaintext_base64"`
		Shares    map[string]string `json:"shares_base64"`
	}
	if err := json.Unmarshal(testutil.ReadTestdata(t, "sdmf-old-shares.json"), &raw); err != nil {
		t.Fatal(err)
	}
	o := &oldSDMF{Cap: raw.Cap, Shares: map[int][]byte{}}
	var err error
	if o.Plaintext, err = base64.StdEncoding.DecodeString(raw.Plaintext); err != nil {
		t.Fatal(err)
	}
	for k, v := range raw.Shares {
		n, err := strconv.Atoi(k)
		if err != nil {
			t.Fatal(err)
		}
		file, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatal(err)
		}
		o.Shares[n] = containerData(t, file)
	}
	return o
}

// gridShares reads every share of a storage index from testdata/grid.
func gridShares(t testing.TB, si string) map[int][]byte {
	t.Helper()
	pattern := filepath.Join(testutil.Testdata(t, "grid", "shares"), "storage*", si[:2], si, "*")
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no shares for %s: %v", si, err)
	}
	out := map[int][]byte{}
	for _, f := range files {
		n, err := strconv.Atoi(filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = containerData(t, b)
	}
	return out
}

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// key is one signing key per test binary: generating is slow.
func key(t testing.TB) *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if testKey, err = rsakey.Generate(); err != nil {
			panic(err)
		}
	})
	return testKey
}

// keysOf derives the readkey and fingerprint of priv.
func keysOf(priv *rsa.PrivateKey) (writekey, readkey, fp []byte) {
	writekey = hashes.SSKWritekey(rsakey.PrivateDER(priv))
	return writekey, hashes.SSKReadkey(writekey), hashes.SSKPubkeyFingerprint(rsakey.PublicDER(&priv.PublicKey))
}
