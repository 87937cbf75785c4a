// Package hashes implements Tahoe-LAFS's tagged SHA-256d hashes and every
// key, identifier and secret derivation built on them (see
// docs/specifications and allmydata/util/hashutil in Tahoe-LAFS).
//
// A tagged hash is SHA-256(SHA-256(netstring(tag) || value)), optionally
// truncated; a tagged pair hash hashes netstring(tag) || netstring(a) ||
// netstring(b). Tags are distinct per purpose, so no derived value can be
// confused with another.
package hashes

import (
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"
	"strconv"
)

// Sizes used throughout Tahoe-LAFS.
const (
	KeyLen  = 16 // AES-128 keys, storage indexes
	IVLen   = 16 // salts and IVs
	HashLen = 32 // full SHA-256d output
)

// Hash tags, one per purpose. They are part of the format and never change.
const (
	TagStorageIndex      = "allmydata_immutable_key_to_storage_index_v1"
	TagBlock             = "allmydata_encoded_subshare_v1"
	TagUEB               = "allmydata_uri_extension_v1"
	TagPlaintext         = "allmydata_plaintext_v1"
	TagCiphertext        = "allmydata_crypttext_v1"
	TagCiphertextSegment = "allmydata_crypttext_segment_v1"
	TagPlaintextSegment  = "allmydata_plaintext_segment_v1"
	TagConvergentKey     = "allmydata_immutable_content_to_key_with_added_secret_v1+"

	TagClientRenewal = "allmydata_client_renewal_secret_v1"
	TagClientCancel  = "allmydata_client_cancel_secret_v1"
	TagFileRenewal   = "allmydata_file_renewal_secret_v1"
	TagFileCancel    = "allmydata_file_cancel_secret_v1"
	TagBucketRenewal = "allmydata_bucket_renewal_secret_v1"
	TagBucketCancel  = "allmydata_bucket_cancel_secret_v1"

	TagMutableWritekey           = "allmydata_mutable_privkey_to_writekey_v1"
	TagMutableWriteEnablerMaster = "allmydata_mutable_writekey_to_write_enabler_master_v1"
	TagMutableWriteEnabler       = "allmydata_mutable_write_enabler_master_and_nodeid_to_write_enabler_v1"
	TagMutablePubkey             = "allmydata_mutable_pubkey_to_fingerprint_v1"
	TagMutableReadkey            = "allmydata_mutable_writekey_to_readkey_v1"
	TagMutableDatakey            = "allmydata_mutable_readkey_to_datakey_v1"
	TagMutableStorageIndex       = "allmydata_mutable_readkey_to_storage_index_v1"

	TagDirnodeChildWritecap = "allmydata_mutable_writekey_and_salt_to_dirnode_child_capkey_v1"
	TagDirnodeChildSalt     = "allmydata_dirnode_child_rwcap_to_salt_v1"
)

// Netstring returns "<len>:<s>,".
func Netstring(s []byte) []byte {
	out := make([]byte, 0, len(s)+12)
	out = strconv.AppendInt(out, int64(len(s)), 10)
	out = append(out, ':')
	out = append(out, s...)
	return append(out, ',')
}

// Hasher is a streaming SHA-256d hash whose Sum truncates to a fixed size.
type Hasher struct {
	h        hash.Hash
	truncate int
}

// NewTagged starts a tagged hash of the given output length (0 = 32 bytes).
func NewTagged(tag string, truncate int) *Hasher {
	h := &Hasher{h: sha256.New(), truncate: truncate}
	h.h.Write(Netstring([]byte(tag)))
	return h
}

// Write adds data to the hash. It never fails.
func (h *Hasher) Write(p []byte) (int, error) { return h.h.Write(p) }

// Sum returns SHA-256 of the inner SHA-256, truncated.
func (h *Hasher) Sum() []byte {
	inner := h.h.Sum(nil)
	outer := sha256.Sum256(inner)
	if h.truncate > 0 && h.truncate < len(outer) {
		return outer[:h.truncate]
	}
	return outer[:]
}

// Tagged is the one-shot tagged hash of val, truncated to n bytes (0 = 32).
func Tagged(tag string, val []byte, n int) []byte {
	h := NewTagged(tag, n)
	h.Write(val)
	return h.Sum()
}

// TaggedPair is the tagged hash of two netstring-framed values.
func TaggedPair(tag string, a, b []byte, n int) []byte {
	h := NewTagged(tag, n)
	h.Write(Netstring(a))
	h.Write(Netstring(b))
	return h.Sum()
}

// BlockHash is the hash of one erasure-coded block (a leaf of a block hash tree).
func BlockHash(b []byte) []byte { return Tagged(TagBlock, b, 0) }

// UEBHash is the hash of a URI extension block, as carried in CHK caps.
func UEBHash(ueb []byte) []byte { return Tagged(TagUEB, ueb, 0) }

// CiphertextSegmentHash hashes one encrypted segment (crypttext hash tree leaf).
func CiphertextSegmentHash(seg []byte) []byte { return Tagged(TagCiphertextSegment, seg, 0) }

// CiphertextHash hashes a whole ciphertext (the UEB's crypttext_hash).
func CiphertextHash(b []byte) []byte { return Tagged(TagCiphertext, b, 0) }

// StorageIndexCHK derives an immutable file's storage index from its AES key.
func StorageIndexCHK(key []byte) []byte { return Tagged(TagStorageIndex, key, KeyLen) }

// ConvergenceTag is the tag of the convergent-encryption hash for the
// given encoding parameters and secret. It fails on k or n outside 1..256
// or k > n, as Tahoe does.
func ConvergenceTag(k, n, segsize int, secret []byte) (string, error) {
	if k < 1 || n < 1 || k > 256 || n > 256 || k > n {
		return "", fmt.Errorf("hashes: invalid encoding %d-of-%d", k, n)
	}
	params := Netstring([]byte(fmt.Sprintf("%d,%d,%d", k, n, segsize)))
	return TagConvergentKey + string(Netstring(secret)) + string(params), nil
}

// NewConvergentKeyHasher starts the hash of a plaintext that yields its
// convergent AES key (16 bytes).
func NewConvergentKeyHasher(k, n, segsize int, secret []byte) (*Hasher, error) {
	tag, err := ConvergenceTag(k, n, segsize, secret)
	if err != nil {
		return nil, err
	}
	return NewTagged(tag, KeyLen), nil
}

// SSKWritekey derives a mutable file's writekey from the DER private key.
func SSKWritekey(privDER []byte) []byte { return Tagged(TagMutableWritekey, privDER, KeyLen) }

// SSKReadkey derives the readkey from the writekey.
func SSKReadkey(writekey []byte) []byte { return Tagged(TagMutableReadkey, writekey, KeyLen) }

// SSKDatakey derives the AES key of one version from its salt/IV and the readkey.
func SSKDatakey(iv, readkey []byte) []byte {
	return TaggedPair(TagMutableDatakey, iv, readkey, KeyLen)
}

// SSKStorageIndex derives a mutable file's storage index from its readkey.
func SSKStorageIndex(readkey []byte) []byte {
	return Tagged(TagMutableStorageIndex, readkey, KeyLen)
}

// SSKPubkeyFingerprint hashes the DER public key into the cap's fingerprint.
func SSKPubkeyFingerprint(pubDER []byte) []byte { return Tagged(TagMutablePubkey, pubDER, 0) }

// WriteEnablerMaster derives the per-file write-enabler master.
func WriteEnablerMaster(writekey []byte) []byte {
	return Tagged(TagMutableWriteEnablerMaster, writekey, 0)
}

// WriteEnabler derives the write enabler one server stores for a mutable
// slot. serverID is the 20-byte id of the server (its Foolscap tub id).
func WriteEnabler(writekey, serverID []byte) []byte {
	return TaggedPair(TagMutableWriteEnabler, WriteEnablerMaster(writekey), serverID, 0)
}

// ClientRenewalSecret derives a client's lease renewal secret from its
// master secret. Note Tahoe's argument order: the secret is the tag.
func ClientRenewalSecret(master []byte) []byte {
	return Tagged(string(master), []byte(TagClientRenewal), 0)
}

// ClientCancelSecret derives a client's lease cancel secret.
func ClientCancelSecret(master []byte) []byte {
	return Tagged(string(master), []byte(TagClientCancel), 0)
}

// FileRenewalSecret derives the per-file renewal secret.
func FileRenewalSecret(clientRenewal, storageIndex []byte) []byte {
	return TaggedPair(TagFileRenewal, clientRenewal, storageIndex, 0)
}

// FileCancelSecret derives the per-file cancel secret.
func FileCancelSecret(clientCancel, storageIndex []byte) []byte {
	return TaggedPair(TagFileCancel, clientCancel, storageIndex, 0)
}

// BucketRenewalSecret derives the per-file, per-server lease renewal secret.
func BucketRenewalSecret(fileRenewal, serverID []byte) []byte {
	return TaggedPair(TagBucketRenewal, fileRenewal, serverID, 0)
}

// BucketCancelSecret derives the per-file, per-server lease cancel secret.
func BucketCancelSecret(fileCancel, serverID []byte) []byte {
	return TaggedPair(TagBucketCancel, fileCancel, serverID, 0)
}

// DirnodeChildWritecapKey derives the AES key that encrypts a directory
// entry's read-write child cap, from the entry's salt and the dir writekey.
func DirnodeChildWritecapKey(salt, writekey []byte) []byte {
	return TaggedPair(TagDirnodeChildWritecap, salt, writekey, KeyLen)
}

// DirnodeChildSalt derives the deterministic salt Tahoe uses when
// encrypting a child write cap: a tagged hash of the write cap alone.
func DirnodeChildSalt(data []byte) []byte {
	return Tagged(TagDirnodeChildSalt, data, IVLen)
}

// PermuteServer returns the sort key of a server on the permuted ring for
// a storage index: SHA-1(storage index || permutation seed).
func PermuteServer(storageIndex, seed []byte) []byte {
	h := sha1.New()
	h.Write(storageIndex)
	h.Write(seed)
	return h.Sum(nil)
}

// HMAC is Tahoe's own keyed MAC used by directory entries: SHA-256 over
// the key XOR 0x5c followed by SHA-256 over the key XOR 0x36 and data. Unlike
// RFC 2104 HMAC the key is not padded to the block size, so crypto/hmac
// gives different bytes and cannot be used here.
func HMAC(key, data []byte) []byte {
	ikey := make([]byte, len(key))
	okey := make([]byte, len(key))
	for i, c := range key {
		ikey[i] = c ^ 0x36
		okey[i] = c ^ 0x5c
	}
	h1 := sha256.New()
	h1.Write(ikey)
	h1.Write(data)
	h2 := sha256.New()
	h2.Write(okey)
	h2.Write(h1.Sum(nil))
	return h2.Sum(nil)
}
