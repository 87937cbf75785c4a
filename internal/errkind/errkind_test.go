package errkind_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

func TestMessageDropsOpNames(t *testing.T) {
	inner := errkind.E("retrieve.Resolve", errkind.NotFound, "no entry %q in %s", "x", "docs")
	for _, c := range []struct {
		err  error
		want string
	}{
		{inner, `no entry "x" in docs`},
		{errkind.E("cat", errkind.Other, inner), `no entry "x" in docs`},
		{fmt.Errorf("reading: %w", inner), `reading: no entry "x" in docs`},
		{errkind.E("a", errkind.Other, fmt.Errorf("b: %w", errkind.E("c", errkind.Other, "d"))), "b: d"},
		{errkind.E("mirror.Open", errkind.Unreachable, nil), "unreachable"},
		{errors.New("plain"), "plain"},
		// Every server's error, joined (the watcher's "could not map"):
		{errkind.E("watcher.Map", errkind.Unreachable, errors.Join(
			errkind.E("grid.ListShares", errkind.Unreachable, "server a unreachable"),
			errkind.E("grid.ListShares", errkind.Unreachable, "server b unreachable"))),
			"server a unreachable\nserver b unreachable"},
		{fmt.Errorf("x: %w, y: %w", inner, errkind.E("c", errkind.Other, "d")), `x: no entry "x" in docs, y: d`},
		{nil, ""},
	} {
		if got := errkind.Message(c.err); got != c.want {
			t.Errorf("Message(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	if got := inner.Error(); got != `retrieve.Resolve: no entry "x" in docs` {
		t.Errorf("Error() = %q: the op stays for developers", got)
	}
}
