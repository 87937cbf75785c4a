// Package publish writes versions of Tahoe-LAFS mutable files (SDMF and
// MDMF) to a grid: new files, and new versions of existing ones.
//
// Every share is written with a read-test-write whose test vector says
// what the writer believes the share holds now: nothing for a new share,
// else the share's checkstring (the first bytes of its header: version,
// sequence number, root hash and, for SDMF, the IV), as Tahoe's publisher
// tests. Write enablers are derived from the file's writekey and each
// server's write-enabler id, as Tahoe derives them.
//
// Concurrent writers are detected and resolved by a lead server: every
// publish writes the shares on the first server of its placement (in
// Tahoe's permuted order) before any other. A writer whose test fails
// there wrote nothing anywhere and returns an error of kind Conflict; the
// writer that passed owns the new sequence number and finishes its
// version, replacing on later servers any share whose version is older
// than its own. Every successful publish therefore has its own sequence
// number, and a failed one leaves the grid as it was. Modify wraps this in
// a read-modify-write loop that retries on conflict.
package publish
