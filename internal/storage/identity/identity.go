// Package identity loads, or creates, a storage node's identity exactly
// where a Tahoe-LAFS node keeps it: the TLS key and self-signed
// certificate in BASE/private/node.pem (certificate, then PKCS#8 private
// key, both PEM), and the swissnum as the last path component of the
// fURL in BASE/private/storage.furl, whose tub id is the server id that
// write enablers and leases are recorded under.
package identity

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// Identity is a storage node's TLS identity and credential.
type Identity struct {
	Certificate tls.Certificate   // key and certificate for the TLS server
	Leaf        *x509.Certificate // the parsed certificate
	Swissnum    string            // the secret clients present
	NodeID      [20]byte          // the fURL's tub id
	FURL        string            // contents of private/storage.furl
}

// SPKIHash is the hash clients pin, as it appears in the NURL.
func (id *Identity) SPKIHash() string { return nurl.SPKIHash(id.Leaf) }

// NURL builds the node's NURL for the given "host:port" hints.
func (id *Identity) NURL(hints []string) *nurl.NURL { return nurl.New(id.Leaf, hints, id.Swissnum) }

// Paths of the identity files below a node's base directory.
func nodePEMPath(base string) string { return filepath.Join(base, "private", "node.pem") }
func furlPath(base string) string    { return filepath.Join(base, "private", "storage.furl") }

// LoadOrCreate loads the identity of the node at base, creating
// node.pem and storage.furl when they do not exist yet (an existing
// file is never overwritten).
func LoadOrCreate(base string) (*Identity, error) {
	const op = "identity.LoadOrCreate"
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, errkind.E(op, errkind.Usage, "base directory %s: %v", base, err)
	}
	if err := os.MkdirAll(filepath.Join(base, "private"), 0o700); err != nil {
		return nil, errkind.E(op, errkind.Usage, "cannot create %s/private: %v", base, err)
	}
	if err := ensureNodePEM(base); err != nil {
		return nil, err
	}
	cert, leaf, err := loadNodePEM(nodePEMPath(base))
	if err != nil {
		return nil, err
	}
	if err := ensureFURL(base, leaf); err != nil {
		return nil, err
	}
	return loadFURL(base, cert, leaf)
}

func ensureNodePEM(base string) error {
	const op = "identity.LoadOrCreate"
	p := nodePEMPath(base)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	pemBytes, err := newNodePEM()
	if err != nil {
		return errkind.E(op, errkind.Other, err)
	}
	if err := writeNew(p, pemBytes); err != nil {
		return errkind.E(op, errkind.Usage, "cannot write %s: %v", p, err)
	}
	return nil
}

// newNodePEM makes an RSA-2048 key and a self-signed certificate valid
// for decades, the kind of identity a Tahoe node makes for itself.
func newNodePEM() ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "newpb_thingy"},
		NotBefore:    now,
		NotAfter:     now.Add(100 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), crypto.Signer(key))
	if err != nil {
		return nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})...), nil
}

// loadNodePEM reads a node.pem holding a certificate and its key, in
// either order, as Tahoe does.
func loadNodePEM(p string) (tls.Certificate, *x509.Certificate, error) {
	const op = "identity.loadNodePEM"
	raw, err := os.ReadFile(p)
	if err != nil {
		return tls.Certificate{}, nil, errkind.E(op, errkind.Usage, "cannot read %s: %v", p, err)
	}
	cert, err := tls.X509KeyPair(raw, raw)
	if err != nil {
		return tls.Certificate{}, nil, errkind.E(op, errkind.Usage, "%s is not a PEM certificate with its private key: %v", p, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return tls.Certificate{}, nil, errkind.E(op, errkind.Usage, "%s: %v", p, err)
	}
	cert.Leaf = leaf
	return cert, leaf, nil
}

// ensureFURL writes a storage.furl with a fresh swissnum if there is
// none. Its tub id follows Foolscap: base32 of the certificate's SHA-1.
func ensureFURL(base string, leaf *x509.Certificate) error {
	p := furlPath(base)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	swiss := make([]byte, 20)
	if _, err := rand.Read(swiss); err != nil {
		return errkind.E("identity.LoadOrCreate", errkind.Other, err)
	}
	tub := sha1.Sum(leaf.Raw)
	furl := "pb://" + base32.Encode(tub[:]) + "@tcp:127.0.0.1:0/" + base32.Encode(swiss) + "\n"
	if err := writeNew(p, []byte(furl)); err != nil {
		return errkind.E("identity.LoadOrCreate", errkind.Usage, "cannot write %s: %v", p, err)
	}
	return nil
}

func loadFURL(base string, cert tls.Certificate, leaf *x509.Certificate) (*Identity, error) {
	const op = "identity.loadFURL"
	p := furlPath(base)
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, "cannot read %s: %v", p, err)
	}
	furl := strings.TrimSpace(string(raw))
	swiss, err := nurl.FURLSwissnum(furl)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, "%s: %v", p, err)
	}
	tub, err := nurl.FURLTubID(furl)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, "%s: %v", p, err)
	}
	return &Identity{Certificate: cert, Leaf: leaf, Swissnum: swiss, NodeID: [20]byte(tub), FURL: furl}, nil
}

// writeNew creates p with data, failing if it exists, and fsyncs it.
func writeNew(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(p)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
