package dirop_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/dirop"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/dirnode"
	"github.com/tahoe-watch/tahoe-watch/internal/testgrid"
)

func netstring(s string) string { return strconv.Itoa(len(s)) + ":" + s + "," }

// TestEditsKeepUnusableEntries: mkdir -p, link, replace and unlink in a
// directory holding another writer's unusable entries keep each one
// byte for byte; unlink of a name only an unusable entry bears removes
// that one alone.
func TestEditsKeepUnusableEntries(t *testing.T) {
	tg := testgrid.New(t, 3)
	ctx := context.Background()
	ed := newEditor(t, tg.Grid(), keys(t))
	root, err := ed.Mkdir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	file := dirop.ChildOf(cap.MustParse("URI:LIT:nbswy3dp"))
	if err := ed.Link(ctx, root, []string{"mine"}, file, false, false); err != nil {
		t.Fatal(err)
	}
	hostile := []string{
		netstring(netstring("\xffname") + netstring("URI:LIT:nbswy3dp") + netstring("") + netstring("{}")),
		netstring(netstring("broken") + netstring("URI:SSK:x") + netstring("") + netstring("{}")),
		netstring("not fields"),
	}
	if _, err := ed.Pub.Modify(ctx, root, func(old []byte) ([]byte, error) {
		out := append([]byte{}, old...)
		for _, h := range hostile {
			out = append(out, h...)
		}
		return out, nil
	}); err != nil {
		t.Fatal(err)
	}
	kept := func(what string, want ...bool) {
		t.Helper()
		b, _, _, err := ed.Pub.Get(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range hostile {
			if got := bytes.Contains(b, []byte(h)); got != want[i] {
				t.Errorf("after %s: hostile entry %d kept = %v", what, i, got)
			}
		}
	}
	if _, err := ed.Dir(ctx, root, []string{"sub"}, true); err != nil {
		t.Fatal(err)
	}
	kept("mkdir -p", true, true, true)
	if err := ed.Link(ctx, root, []string{"mine"}, dirop.ChildOf(cap.MustParse("URI:LIT:mfrggzdf")), false, true); err != nil {
		t.Fatal(err)
	}
	kept("replace", true, true, true)
	if err := ed.Unlink(ctx, root, []string{"mine"}); err != nil {
		t.Fatal(err)
	}
	kept("unlink", true, true, true)
	entries, err := ed.List(ctx, root)
	if err != nil || len(entries) != 1 || entries[0].Name != "sub" {
		t.Fatalf("List = %+v, %v", entries, err)
	}
	if err := ed.Unlink(ctx, root, []string{"broken"}); err != nil {
		t.Fatal(err)
	}
	kept("unlink of the unusable entry", true, false, true)
	if err := ed.Unlink(ctx, root, []string{"broken"}); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("second unlink: %v", err)
	}
	b, _, _, _ := ed.Pub.Get(ctx, root)
	if d, err := dirnode.ParseDir(b, root.Writekey); err != nil || len(d.Unusable) != 2 {
		t.Errorf("ParseDir = %+v, %v", d, err)
	}
	// Linking a usable entry under an unusable one's name replaces it:
	// two entries of one name would let Tahoe read the later, hostile one.
	if _, err := ed.Pub.Modify(ctx, root, func(old []byte) ([]byte, error) {
		return append(append([]byte{}, old...), hostile[1]...), nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := ed.Link(ctx, root, []string{"broken"}, file, false, false); err != nil {
		t.Fatal(err)
	}
	kept("link over the unusable entry's name", true, false, true)
	if entries, err := ed.List(ctx, root); err != nil || len(entries) != 2 {
		t.Errorf("List = %+v, %v", entries, err)
	}
}
