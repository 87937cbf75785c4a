// Package grid talks to Tahoe-LAFS storage servers over the HTTP storage
// protocol ("Great Black Swamp", GBS) and describes a grid: the list of
// servers a client knows, their identities, and the permuted order in
// which Tahoe visits them for a storage index.
//
// A Client speaks to one server, named by a NURL. It pins the server's TLS
// key by the SPKI hash in the NURL, presents the NURL's swissnum in the
// Authorization header, exchanges CBOR bodies, and maps every failure to an
// errkind kind so that the command line can print one clear line.
package grid
