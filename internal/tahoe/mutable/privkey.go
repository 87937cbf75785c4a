package mutable

import (
	"bytes"
	"crypto/rsa"
	"crypto/subtle"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/hashes"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/rsakey"
)

// EncryptPrivateKey encrypts the PKCS#8 DER private key under the writekey
// (AES-128-CTR, zero counter), the form every share stores.
func EncryptPrivateKey(writekey, privDER []byte) ([]byte, error) {
	out := bytes.Clone(privDER)
	if err := crypt(writekey, out); err != nil {
		return nil, errkind.E("mutable.EncryptPrivateKey", errkind.Usage, err)
	}
	return out, nil
}

// DecryptPrivateKey decrypts an encrypted private key with the writekey
// and checks that the key is the one the writekey was derived from.
func DecryptPrivateKey(writekey, enc []byte) (*rsa.PrivateKey, error) {
	const op = "mutable.DecryptPrivateKey"
	der := bytes.Clone(enc)
	if err := crypt(writekey, der); err != nil {
		return nil, errkind.E(op, errkind.Usage, err)
	}
	if subtle.ConstantTimeCompare(hashes.SSKWritekey(der), writekey) != 1 {
		return nil, errkind.E(op, errkind.Corrupt, "decrypted private key does not hash to the writekey")
	}
	k, err := rsakey.ParsePrivateDER(der)
	if err != nil {
		return nil, errkind.E(op, errkind.Corrupt, err)
	}
	return k, nil
}

// RecoverPrivateKey extracts the signing key from share data with the
// writekey, so an existing file can be updated from its write cap alone.
// For MDMF the prefix suffices; SDMF keeps the key at the end of the share.
func RecoverPrivateKey(writekey, share []byte) (*rsa.PrivateKey, error) {
	const op = "mutable.RecoverPrivateKey"
	h, err := parseHeader(share)
	if err != nil {
		return nil, errkind.E(op, errkind.Invalid, err)
	}
	r := h.Layout.EncPrivkey
	if r.End > int64(len(share)) {
		return nil, errkind.E(op, errkind.Invalid, "have %d bytes, encrypted private key ends at %d", len(share), r.End)
	}
	return DecryptPrivateKey(writekey, share[r.Start:r.End])
}
