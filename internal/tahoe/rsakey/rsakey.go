// Package rsakey handles the RSA signing keys of Tahoe-LAFS mutable files:
// their DER serialisations (PKCS#8 private, SubjectPublicKeyInfo public)
// from which caps are derived, PEM loading for --private-key, and RSA-PSS
// signatures over SHA-256 with Tahoe's fixed 32-byte salt.
package rsakey

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Bits is the size of the keys Tahoe-LAFS creates.
const Bits = 2048

// SaltLength is the RSA-PSS salt length Tahoe-LAFS uses (not the maximum).
const SaltLength = 32

var pssOptions = &rsa.PSSOptions{SaltLength: SaltLength, Hash: crypto.SHA256}

// Generate creates a new 2048-bit signing key.
func Generate() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, Bits)
}

// PrivateDER returns the PKCS#8 DER form Tahoe hashes into the writekey
// and stores (encrypted) in every mutable share.
func PrivateDER(k *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic("rsakey: marshalling an RSA key cannot fail: " + err.Error())
	}
	return der
}

// PublicDER returns the SubjectPublicKeyInfo DER form Tahoe hashes into the
// verification-key fingerprint and stores in every mutable share.
func PublicDER(k *rsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic("rsakey: marshalling an RSA key cannot fail: " + err.Error())
	}
	return der
}

// ParsePrivateDER parses a PKCS#8 (or PKCS#1) DER RSA private key.
func ParsePrivateDER(der []byte) (*rsa.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("rsakey: private key is not RSA")
		}
		return rk, nil
	}
	k, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		// x509's and asn1's messages name Go functions and dump Go
		// structs: say it in words instead.
		return nil, errors.New("rsakey: not an RSA private key in PKCS#8 or PKCS#1 DER form")
	}
	return k, nil
}

// ParsePublicDER parses a SubjectPublicKeyInfo DER RSA public key.
func ParsePublicDER(der []byte) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("rsakey: not an RSA public key in SubjectPublicKeyInfo DER form")
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("rsakey: public key is not RSA")
	}
	return rk, nil
}

// ParsePEM reads an RSA private key from PEM ("RSA PRIVATE KEY" or
// "PRIVATE KEY").
func ParsePEM(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("rsakey: no PEM block found")
	}
	return ParsePrivateDER(block.Bytes)
}

// EncodePEM writes k as a PKCS#1 "RSA PRIVATE KEY" PEM block.
func EncodePEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// Sign returns Tahoe's RSA-PSS-SHA256 signature of data.
func Sign(k *rsa.PrivateKey, data []byte) ([]byte, error) {
	h := sha256.Sum256(data)
	return rsa.SignPSS(rand.Reader, k, crypto.SHA256, h[:], pssOptions)
}

// Verify checks a Tahoe RSA-PSS-SHA256 signature.
func Verify(k *rsa.PublicKey, data, sig []byte) error {
	h := sha256.Sum256(data)
	if err := rsa.VerifyPSS(k, crypto.SHA256, h[:], sig, pssOptions); err != nil {
		return fmt.Errorf("rsakey: bad signature: %w", err)
	}
	return nil
}
