package retrieve

import (
	"fmt"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/mapupdate"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

// Recoverable returns the map's best version, or an error saying how
// many shares were found of how many needed and which servers failed.
func Recoverable(m *mapupdate.Map) (*mapupdate.Version, error) {
	if m.Best != nil {
		return m.Best, nil
	}
	return nil, notRecoverable("retrieve", m.StorageIndex, bestEffort(m), m.Servers)
}

// bestEffort describes the most complete version seen.
func bestEffort(m *mapupdate.Map) string {
	if len(m.Versions) == 0 {
		return ""
	}
	most := m.Versions[0]
	for _, v := range m.Versions {
		if v.Distinct() > most.Distinct() {
			most = v
		}
	}
	return fmt.Sprintf("found %d of the %d shares needed (seqnum %d, %d-of-%d)",
		most.Distinct(), most.ID.K, most.ID.Seqnum, most.ID.K, most.ID.N)
}

// notRecoverable builds the one-line error for too few shares.
func notRecoverable(op string, si []byte, found string, servers []*mapupdate.ServerResult) error {
	kind := errkind.Unrecoverable
	if found == "" {
		found = "found no shares"
		kind = errkind.NotFound
	}
	var failed []string
	for _, s := range servers {
		if s.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", s.Name, s.Class))
		}
	}
	msg := fmt.Sprintf("storage index %s: %s on %d servers", cap.FormatSI(si), found, len(servers))
	if len(failed) > 0 {
		msg += fmt.Sprintf("; %d did not answer (%s)", len(failed), strings.Join(failed, ", "))
		if kind == errkind.NotFound {
			kind = errkind.Unrecoverable
		}
	}
	return errkind.E(op, kind, "%s", msg)
}
