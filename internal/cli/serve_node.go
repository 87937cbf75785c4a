package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/gridconfig"
	"github.com/tahoe-watch/tahoe-watch/internal/logging"
	"github.com/tahoe-watch/tahoe-watch/internal/watchserver"
)

// PortFile is the file in serve's node directory recording the port the
// first start chose when neither --listen nor tahoe.cfg's tub.port said
// (Tahoe's client.port: a tub.port endpoint string), so the NURL stays
// the same across restarts.
const PortFile = "client.port"

// defaultListen is where a fresh node directory listens: loopback only,
// on a free port that is then recorded in PortFile.
const defaultListen = "127.0.0.1:0"

// listenPlan is where serve listens and where that address came from.
type listenPlan struct {
	addr    string
	fromCfg bool // tahoe.cfg's tub.port or PortFile, not --listen: tub.location applies
	record  bool // a fresh choice: write the chosen port to PortFile
}

// planListen decides serve's listening address: --listen, else tahoe.cfg's
// tub.port, else the port recorded in PortFile, else defaultListen
// (recorded once bound).
func planListen(flag, base string, node *gridconfig.StorageNode) (listenPlan, error) {
	switch {
	case flag != "":
		return listenPlan{addr: flag}, nil
	case node.Listen != "":
		return listenPlan{addr: node.Listen, fromCfg: true}, nil
	}
	p := filepath.Join(base, PortFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return listenPlan{addr: defaultListen, record: true}, nil
	} else if err != nil {
		return listenPlan{}, errkind.E("serve", errkind.Usage, "cannot read %s: %v", p, err)
	}
	addr, err := gridconfig.ParseTubPort(strings.TrimSpace(string(b)))
	if err != nil {
		return listenPlan{}, errkind.E("serve", errkind.Usage, "%s: %v (remove it to pick a new port)", p, err)
	}
	return listenPlan{addr: addr, fromCfg: true}, nil
}

// recordPort writes the port serve listens on to PortFile, as a tub.port
// endpoint a Tahoe node would read too.
func recordPort(base string, addr net.Addr) error {
	return recordPortIn(filepath.Join(base, PortFile), addr)
}

// recordPortIn writes addr to file as a tub.port endpoint.
func recordPortIn(file string, addr net.Addr) error {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return err
	}
	ep := "tcp:" + port + ":interface=" + strings.ReplaceAll(host, ":", `\:`)
	return writeFileAtomic(file, []byte(ep+"\n"))
}

// advertise returns the NURL location hints: --location when given;
// else, unless --listen overrode tub.port, tahoe.cfg's tub.location
// (the two go together); else the concrete address listened on. A
// wildcard address is never advertised: from tahoe.cfg it means AUTO, as
// in Tahoe; from --listen it is a usage error without --location.
func advertise(flags []string, cfgLoc []string, useCfg bool, ln net.Addr, log *slog.Logger) ([]string, error) {
	_, portStr, _ := net.SplitHostPort(ln.String())
	port, _ := strconv.Atoi(portStr)
	ap, err := netip.ParseAddrPort(ln.String())
	wildcard := err == nil && ap.Addr().IsUnspecified()
	switch {
	case len(flags) > 0:
		return locationHints(flags, port, "--location", log)
	case useCfg && cfgLoc != nil:
		return locationHints(cfgLoc, port, "tahoe.cfg tub.location", log)
	case !wildcard:
		return []string{ln.String()}, nil
	case useCfg:
		return locationHints([]string{"AUTO"}, port, "tub.location (AUTO)", log)
	}
	return nil, noAdvertiseError(ln.String())
}

// isWildcard reports whether a listen address means every address
// (0.0.0.0, [::] or no host at all).
func isWildcard(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return host == "" || err == nil && ip.IsUnspecified()
}

func noAdvertiseError(addr string) error {
	return errkind.E("listen", errkind.Usage,
		"listening on %s (every address) but no address to advertise: give --location HOST:PORT (repeatable), the address clients dial", addr)
}

// locationHints turns tub.location-style entries ("tcp:HOST:PORT",
// "HOST:PORT", "AUTO") into NURL hints, dropping Tor and I2P hints with a
// warning. AUTO is this machine's addresses on port.
func locationHints(entries []string, port int, what string, log *slog.Logger) ([]string, error) {
	var out []string
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "AUTO":
			auto, err := autoAddresses(port)
			if err != nil {
				return nil, err
			}
			out = append(out, auto...)
			continue
		case strings.HasPrefix(e, "tor:"), strings.HasPrefix(e, "i2p:"):
			log.Warn("location hint skipped: tahoe-watch speaks TCP only", "hint", e)
			continue
		}
		h, err := checkHint(strings.TrimPrefix(e, "tcp:"))
		if err != nil {
			return nil, errkind.E("location", errkind.Usage, "%s %q: %v", what, e, err)
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, errkind.E("location", errkind.Usage, "%s gives no TCP address to advertise", what)
	}
	return out, nil
}

// checkHint validates one "HOST:PORT" hint: a host clients can dial (not
// a wildcard) and a port from 1 to 65535.
func checkHint(h string) (string, error) {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		return "", fmt.Errorf("want HOST:PORT (IPv6 as [ADDR]:PORT)")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("port %q must be a number from 1 to 65535", port)
	}
	if a, err := netip.ParseAddr(host); host == "" || (err == nil && a.IsUnspecified()) {
		return "", fmt.Errorf("%q is not an address clients can dial", host)
	}
	return net.JoinHostPort(host, port), nil
}

// autoAddresses is Tahoe's AUTO: this machine's IPv4 addresses on port,
// loopback only when there is nothing else.
func autoAddresses(port int) ([]string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, errkind.E("location", errkind.Other, "listing local addresses for AUTO: %v", err)
	}
	var out, loop []string
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil || !pfx.Addr().Is4() || pfx.Addr().IsLinkLocalUnicast() {
			continue
		}
		hp := netip.AddrPortFrom(pfx.Addr(), uint16(port)).String()
		if pfx.Addr().IsLoopback() {
			loop = append(loop, hp)
		} else {
			out = append(out, hp)
		}
	}
	if len(out) == 0 {
		out = loop
	}
	if len(out) == 0 {
		return nil, errkind.E("location", errkind.Usage, "AUTO found no address to advertise: give --location HOST:PORT")
	}
	return out, nil
}

// removeStale removes a file a previous run left behind, if any.
func removeStale(path string, log *slog.Logger) {
	if err := os.Remove(path); err == nil {
		log.Debug("removed a previous run's file", "file", path)
	}
}

// addWatchLimitFlags registers the watch endpoint's limits on fs (serve
// and notifier share them; docs/watch-protocol.md, "Limits").
func addWatchLimitFlags(fs *pflag.FlagSet, o *watchserver.Options) {
	fs.IntVar(&o.MaxConns, "watch-max-conns", watchserver.DefaultMaxConns, "at most `N` watch connections on this server, all clients together")
	fs.IntVar(&o.MaxConnsPerClient, "watch-max-conns-per-client", watchserver.DefaultMaxConnsPerClient,
		"at most `N` watch connections from one client (an IPv4 address or an IPv6 /64)")
	fs.IntVar(&o.MaxSubsTotal, "watch-max-subs", watchserver.DefaultMaxSubsTotal, "at most `N` subscriptions on this server, all clients together (about 0.4 KB each)")
	fs.IntVar(&o.MaxSubsPerClient, "watch-max-subs-per-client", watchserver.DefaultMaxSubsPerClient, "at most `N` subscriptions from one client, all its connections together")
	fs.IntVar(&o.MaxSubsPerConn, "watch-max-subs-per-conn", watchserver.DefaultMaxSubsPerConn, "at most `N` subscriptions on one watch connection")
	fs.Float64Var(&o.SubscribeRate, "watch-subscribe-rate", watchserver.DefaultSubscribeRate,
		"`RATE`: subscriptions per second one client may make once its burst is spent (beyond it they are delayed, not refused)")
	fs.IntVar(&o.SubscribeBurst, "watch-subscribe-burst", watchserver.DefaultSubscribeBurst, "at most `N` subscriptions one client may make at once")
}

// checkWatchLimits refuses limits that are not positive.
func checkWatchLimits(o watchserver.Options) error {
	for name, v := range map[string]float64{
		"--watch-max-conns": float64(o.MaxConns), "--watch-max-conns-per-client": float64(o.MaxConnsPerClient),
		"--watch-max-subs": float64(o.MaxSubsTotal), "--watch-max-subs-per-client": float64(o.MaxSubsPerClient),
		"--watch-max-subs-per-conn": float64(o.MaxSubsPerConn), "--watch-subscribe-rate": o.SubscribeRate,
		"--watch-subscribe-burst": float64(o.SubscribeBurst),
	} {
		if v <= 0 {
			return errkind.E("limits", errkind.Usage, "%s must be positive", name)
		}
	}
	return nil
}

// completeLogFlags offers the values of --log-level and --log-format.
func completeLogFlags(cmd *cobra.Command) {
	fixed := func(vals []string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return vals, cobra.ShellCompDirectiveNoFileComp
		}
	}
	_ = cmd.RegisterFlagCompletionFunc("log-level", fixed(logging.Levels))
	_ = cmd.RegisterFlagCompletionFunc("log-format", fixed(logging.Formats))
}
