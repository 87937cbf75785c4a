package mirror

// Hooks for the external tests; set them before Run or Sync.

// SetHashHook makes m call f for each local file it hashes.
func SetHashHook(m *Mirror, f func(rel string)) { m.loc.hashed = f }

// SetLocalEventHook makes the local watch call f with the path of each
// event first; when f returns true the event is dropped, as if lost.
func SetLocalEventHook(m *Mirror, f func(rel string) (drop bool)) { m.localHook = f }

// LocalOverflow acts as if the local watch reported lost events; false
// when no local watch runs.
func LocalOverflow(m *Mirror) bool {
	lw := m.lw.Load()
	if lw == nil {
		return false
	}
	lw.overflow()
	return true
}

// Trusted reports whether the local watch vouches for rel.
func Trusted(m *Mirror, rel string) bool { return m.trusted(rel) }

// SetReadHook makes m call f after each read of a file it uploads,
// with the offset and the number of bytes read.
func SetReadHook(m *Mirror, f func(rel string, off int64, n int)) { m.loc.read = f }
