// Package chk implements Tahoe-LAFS immutable ("CHK") files: the URI
// extension block (UEB), the share layout (versions 1 and 2), an encoder
// that produces byte-for-byte the shares and cap values Tahoe-LAFS 1.20
// produces, and a verifying decoder.
//
// A CHK file is encrypted with AES-128-CTR under a key derived from its
// plaintext (convergent encryption), cut into segments, and each segment
// is erasure-coded with zfec into one block per share. Every share carries
// a Merkle tree over its blocks, the tree over the ciphertext segments,
// the chain of the share hash tree that ties its block tree to the UEB,
// and the UEB itself, whose hash is in the cap. The decoder checks all of
// these before it trusts a byte.
package chk
