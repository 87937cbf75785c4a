package storage

// Reserved space, as Tahoe-LAFS 1.20's storage server applies it
// ([storage] reserved_space and readonly in tahoe.cfg): the space
// offered for shares is the file system's free space (for unprivileged
// users) minus the reserve, nothing at all when read-only. An immutable
// allocation is granted share by share while the space left, less what
// uploads in progress have been granted, holds the share's whole
// allocated size; shares that do not fit are simply not allocated, so the
// client places them elsewhere. Mutable writes are not checked (Tahoe
// does not check them either).

// AvailableSpace is the space offered for new shares: the free space of
// the file system holding them less the reserve, or 0 when read-only.
// Where free space cannot be measured it is 2^64-1 (unlimited, as Tahoe).
func (b *Backend) AvailableSpace() uint64 {
	if b.readOnly {
		return 0
	}
	free, ok := b.freeSpace()
	if !ok {
		return 1<<64 - 1
	}
	if free <= b.reserved {
		return 0
	}
	return free - b.reserved
}

// reserveRoom grants a new immutable share of size bytes if it fits in
// the available space once the uploads in progress, and the grants not
// yet in b.uploads, are accounted for; the check and the grant happen
// under one lock, so concurrent allocations cannot both take the last
// room. A granted caller gives the grant back with unreserve once its
// upload is in b.uploads (or has failed).
func (b *Backend) reserveRoom(size uint64) bool {
	avail := b.AvailableSpace()
	b.mu.Lock()
	defer b.mu.Unlock()
	if avail != 1<<64-1 {
		granted := b.reserving
		for _, u := range b.uploads {
			granted += u.size
		}
		if avail < granted || avail-granted < size {
			return false
		}
	}
	b.reserving += size
	return true
}

// unreserve gives back a grant of reserveRoom.
func (b *Backend) unreserve(size uint64) {
	b.mu.Lock()
	b.reserving -= size
	b.mu.Unlock()
}
