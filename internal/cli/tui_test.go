package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/tahoe-watch/tahoe-watch/internal/demo"
	"github.com/tahoe-watch/tahoe-watch/internal/tahoe/cap"
)

func TestTuiSavesArgsAsReadCaps(t *testing.T) {
	w := cap.NewMutableFromKeys(cap.SDMF, false, make([]byte, 16), make([]byte, 32))
	file := filepath.Join(t.TempDir(), "tui.yaml")
	g, err := demo.StartGrid(context.Background(), t.TempDir(), demo.GridOptions{Servers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	ran := false
	opts := &tuiOptions{watchList: file, args: []string{w.String()}, s: StdStreams(),
		gridOptions: gridOptions{servers: []string{g.Nodes[0].Info.NURLs[0].String()}},
		run:         func(context.Context, tea.Model) error { ran = true; return nil }}
	if err := tuiRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Fatal("dashboard not shown")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), w.String()) || !strings.Contains(string(b), w.ReadOnly().String()) {
		t.Fatalf("watch list:\n%s", b)
	}
}

func TestTuiRejectsImmutableCap(t *testing.T) {
	opts := &tuiOptions{args: []string{"URI:LIT:nbswy3dp"}, s: StdStreams()}
	if err := tuiRun(context.Background(), opts); ExitCode(err) != ExitUsage {
		t.Fatalf("err %v, want a usage error", err)
	}
}
