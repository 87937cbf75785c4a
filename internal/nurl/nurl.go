// Package nurl parses and prints the NURLs that Tahoe-LAFS storage servers
// announce for the HTTP storage protocol, and the fURLs of their Foolscap
// side, whose tub id still keys write enablers and lease secrets.
//
// A NURL looks like
//
//	pb://<SPKI hash>@<host>:<port>[,<host>:<port>...]/<swissnum>#v=1
//
// where the SPKI hash is the unpadded base64url SHA-256 of the server
// certificate's DER SubjectPublicKeyInfo: clients pin the server's TLS key
// by it, and present the swissnum as their credential.
package nurl

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/base32"
)

// NURL is a parsed storage-server NURL.
type NURL struct {
	SPKIHash string   // unpadded base64url SHA-256 of the server's SPKI
	Hints    []string // "host:port" location hints, in order
	Swissnum string   // the secret path component
	Fragment string   // "v=1" for the HTTP storage protocol
}

// Parse parses a NURL. Location hints may carry Foolscap's "tcp:" prefix,
// which is dropped.
func Parse(s string) (*NURL, error) {
	const op = "nurl.Parse"
	rest, ok := strings.CutPrefix(s, "pb://")
	if !ok {
		return nil, errkind.E(op, errkind.Usage, "%q does not start with pb://", redact(s))
	}
	rest, frag, _ := strings.Cut(rest, "#")
	hash, rest, ok := strings.Cut(rest, "@")
	if !ok {
		return nil, errkind.E(op, errkind.Usage, "%q has no '@' after the SPKI hash", redact(s))
	}
	loc, swiss, ok := strings.Cut(rest, "/")
	if !ok || swiss == "" || strings.Contains(swiss, "/") {
		return nil, errkind.E(op, errkind.Usage, "%q needs exactly one path component, the swissnum", redact(s))
	}
	if err := checkHash(hash); err != nil {
		return nil, errkind.E(op, errkind.Usage, err)
	}
	hints, err := parseHints(loc)
	if err != nil {
		return nil, errkind.E(op, errkind.Usage, err)
	}
	if frag != "v=1" {
		return nil, errkind.E(op, errkind.Usage, "NURL fragment is %q; the HTTP storage protocol needs #v=1", cutPath(frag))
	}
	return &NURL{SPKIHash: hash, Hints: hints, Swissnum: swiss, Fragment: frag}, nil
}

func checkHash(h string) error {
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return fmt.Errorf("SPKI hash %q is not 32 bytes of unpadded base64url", cutPath(h))
	}
	return nil
}

func parseHints(loc string) ([]string, error) {
	var hints []string
	for _, h := range strings.Split(loc, ",") {
		h = strings.TrimPrefix(h, "tcp:")
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return nil, fmt.Errorf("location hint %q is not host:port", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("location hint %q has a bad port", h)
		}
		hints = append(hints, h)
	}
	return hints, nil
}

// redact hides the swissnum (a secret) in messages: everything after
// the first "/" past the scheme goes, for a malformed string may hold
// the swissnum anywhere after it (a second path component, a "/" typed
// before the "@").
func redact(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + len("://")
	}
	return s[:start] + cutPath(s[start:])
}

// cutPath hides what follows the first "/" of a part of a NURL.
func cutPath(s string) string {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i+1] + "…"
	}
	return s
}

// String prints the NURL in the form Tahoe announces.
func (n *NURL) String() string {
	return "pb://" + n.SPKIHash + "@" + strings.Join(n.Hints, ",") + "/" + n.Swissnum + "#" + n.Fragment
}

// LogValue makes slog print the NURL redacted, so that logging a NURL
// value itself never shows its swissnum.
func (n *NURL) LogValue() slog.Value { return slog.StringValue(n.Redacted()) }

// Redacted prints the NURL without its swissnum, for logs.
func (n *NURL) Redacted() string {
	return "pb://" + n.SPKIHash + "@" + strings.Join(n.Hints, ",") + "/…"
}

// New builds a NURL for a server with the given certificate.
func New(cert *x509.Certificate, hints []string, swissnum string) *NURL {
	return &NURL{SPKIHash: SPKIHash(cert), Hints: hints, Swissnum: swissnum, Fragment: "v=1"}
}

// SPKIHash is the unpadded base64url SHA-256 of cert's DER SubjectPublicKeyInfo.
func SPKIHash(cert *x509.Certificate) string {
	return SPKIHashDER(cert.RawSubjectPublicKeyInfo)
}

// SPKIHashDER hashes a DER SubjectPublicKeyInfo.
func SPKIHashDER(spki []byte) string {
	sum := sha256.Sum256(spki)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// FURLTubID returns the 20-byte tub id of a Foolscap fURL
// ("pb://<base32 tubid>@<hints>/<name>"), the server id from which Tahoe
// derives write enablers and lease secrets.
func FURLTubID(furl string) ([]byte, error) {
	const op = "nurl.FURLTubID"
	rest, ok := strings.CutPrefix(furl, "pb://")
	if !ok {
		return nil, errkind.E(op, errkind.Invalid, "fURL does not start with pb://")
	}
	tub, _, ok := strings.Cut(rest, "@")
	if !ok {
		return nil, errkind.E(op, errkind.Invalid, "fURL has no '@'")
	}
	id, err := base32.DecodeLen(tub, 20)
	if err != nil { // base32's message echoes tub, which may hold the swissnum
		return nil, errkind.E(op, errkind.Invalid, "fURL tub id %q is not 20 bytes of base32", cutPath(tub))
	}
	return id, nil
}

// FURLSwissnum returns the last path component of a fURL (for a storage
// node, the swissnum its HTTP side also accepts).
func FURLSwissnum(furl string) (string, error) {
	i := strings.LastIndex(furl, "/")
	if !strings.HasPrefix(furl, "pb://") || i < len("pb://") || i == len(furl)-1 {
		return "", errkind.E("nurl.FURLSwissnum", errkind.Invalid, "not a fURL with a swissnum")
	}
	return strings.TrimSpace(furl[i+1:]), nil
}
