package dirop

import (
	"context"

	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
)

// Edit applies edit to the entries of the directory holding the last
// element of path below root (creating missing parents when parents is
// set), in a read-modify-write. Whenever a concurrent writer wins the
// test-and-set, edit is called again on the latest entries, so it must
// re-apply only the caller's own change (and may refuse, with an error,
// when the latest entries no longer allow it). Returning
// publish.ErrUnchanged leaves the directory as it is. Entries that cannot
// be used (another writer's, maybe hostile) are never shown to edit and are
// written back byte for byte.
func (e *Editor) Edit(ctx context.Context, root cap.Cap, path []string, parents bool,
	edit func(entries []dirnode.Entry, name string) ([]dirnode.Entry, error)) error {
	return e.editEntries(ctx, "dirop.Edit", root, path, parents, func(d *dirnode.Dir, name string) error {
		ents, err := edit(d.Entries, name)
		if err == nil {
			d.Entries = ents
		}
		return err
	})
}
