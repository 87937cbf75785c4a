package cli

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/gridconfig"
)

// TestAdvertiseRules: --location wins; tub.location goes with tub.port
// (not with --listen); a concrete address advertises itself; a wildcard
// is AUTO from tahoe.cfg and a usage error from --listen.
func TestAdvertiseRules(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	concrete := &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 3457}
	wild := &net.TCPAddr{IP: net.IPv4zero, Port: 3457}
	cfgLoc := []string{"tcp:storage.example.org:3457", "tor:abc.onion:3457", "10.0.0.9:3457"}
	for _, tc := range []struct {
		name   string
		flags  []string
		cfg    []string
		useCfg bool
		ln     net.Addr
		want   []string
	}{
		{"flags win", []string{"a.example:1", "tcp:[2001:db8::1]:2"}, cfgLoc, true, wild, []string{"a.example:1", "[2001:db8::1]:2"}},
		{"tub.location with tub.port", nil, cfgLoc, true, concrete, []string{"storage.example.org:3457", "10.0.0.9:3457"}},
		{"tub.location not with --listen", nil, cfgLoc, false, concrete, []string{"10.1.2.3:3457"}},
		{"concrete", nil, nil, false, concrete, []string{"10.1.2.3:3457"}},
	} {
		got, err := advertise(tc.flags, tc.cfg, tc.useCfg, tc.ln, log)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := advertise(nil, nil, false, wild, log); !errkind.Is(err, errkind.Usage) || !strings.Contains(err.Error(), "--location") {
		t.Errorf("--listen wildcard without --location: %v", err)
	}
	auto, err := advertise(nil, nil, true, wild, log)
	if err != nil || len(auto) == 0 {
		t.Fatalf("AUTO: %v %v", auto, err)
	}
	for _, h := range auto {
		if host, port, _ := net.SplitHostPort(h); port != "3457" || net.ParseIP(host).IsUnspecified() {
			t.Errorf("AUTO hint %s", h)
		}
	}
	for _, bad := range [][]string{{"0.0.0.0:1"}, {"host"}, {"h:0"}, {"h:x"}, {"tor:x.onion:1"}, {"[::]:5"}} {
		if _, err := advertise(bad, nil, false, concrete, log); !errkind.Is(err, errkind.Usage) {
			t.Errorf("--location %v accepted: %v", bad, err)
		}
	}
}

// TestPlanListen: --listen, else tub.port, else the recorded port, else
// a fresh loopback port to record; a recorded port round-trips.
func TestPlanListen(t *testing.T) {
	base := t.TempDir()
	none := &gridconfig.StorageNode{}
	if p, err := planListen("", base, none); err != nil || p.addr != defaultListen || !p.record || p.fromCfg {
		t.Fatalf("fresh dir: %+v %v", p, err)
	}
	for _, addr := range []string{"127.0.0.1:4567", "[::1]:4568"} {
		a, _ := net.ResolveTCPAddr("tcp", addr)
		if err := recordPort(base, a); err != nil {
			t.Fatal(err)
		}
		if p, err := planListen("", base, none); err != nil || p.addr != addr || p.record || !p.fromCfg {
			t.Errorf("recorded %s: %+v %v", addr, p, err)
		}
	}
	cfg := &gridconfig.StorageNode{Listen: "0.0.0.0:3457"}
	if p, _ := planListen("", base, cfg); p.addr != "0.0.0.0:3457" || !p.fromCfg {
		t.Errorf("tub.port: %+v", p)
	}
	if p, _ := planListen("127.0.0.1:9", base, cfg); p.addr != "127.0.0.1:9" || p.fromCfg || p.record {
		t.Errorf("--listen: %+v", p)
	}
	os.WriteFile(filepath.Join(base, PortFile), []byte("garbage\n"), 0o600)
	if _, err := planListen("", base, none); !errkind.Is(err, errkind.Usage) || !strings.Contains(err.Error(), PortFile) {
		t.Errorf("bad %s: %v", PortFile, err)
	}
}
