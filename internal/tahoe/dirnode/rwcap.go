package dirnode

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
)

// Layout of an encrypted write cap: salt || AES-CTR(key, cap) || MAC, where
// key = DirnodeChildWritecapKey(salt, writekey) and MAC = HMAC(key, salt ||
// ciphertext). The salt is a tagged hash of the plaintext cap, so packing
// is deterministic.
const (
	saltLen = hashes.IVLen
	macLen  = hashes.HashLen
)

var (
	errRWShort = errors.New("encrypted write cap shorter than salt and MAC")
	errRWMAC   = errors.New("encrypted write cap fails its MAC (wrong writekey or damaged entry)")
)

// encryptRWCap seals a child write cap under the directory's writekey.
// Tahoe seals even an empty cap (giving 48 bytes), so a writer's
// directory never reveals by an empty field which children are writable.
func encryptRWCap(writekey []byte, rwcap string) []byte {
	salt := hashes.DirnodeChildSalt([]byte(rwcap))
	key := hashes.DirnodeChildWritecapKey(salt, writekey)
	out := make([]byte, 0, saltLen+len(rwcap)+macLen)
	out = append(out, salt...)
	out = append(out, ctr(key, []byte(rwcap))...)
	return append(out, hashes.HMAC(key, out)...)
}

// decryptRWCap opens a sealed write cap. An empty field (as an immutable
// directory or a writekey-less packer leaves it) holds no cap.
func decryptRWCap(writekey, sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	if len(sealed) < saltLen+macLen {
		return "", errRWShort
	}
	salt := sealed[:saltLen]
	body := sealed[:len(sealed)-macLen]
	key := hashes.DirnodeChildWritecapKey(salt, writekey)
	if subtle.ConstantTimeCompare(hashes.HMAC(key, body), sealed[len(body):]) != 1 {
		return "", errRWMAC
	}
	return string(ctr(key, body[saltLen:])), nil
}

// ctr applies AES-128-CTR with a zero IV, as Tahoe does for every key that
// is used only once.
func ctr(key, in []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		// Keys come from a 16-byte truncated hash; any other length
		// is a bug in this package, not bad input.
		panic("dirnode: bad derived AES key: " + err.Error())
	}
	out := make([]byte, len(in))
	cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(out, in)
	return out
}
