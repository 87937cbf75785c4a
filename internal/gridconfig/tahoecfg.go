package gridconfig

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
)

// TahoeCfg is a parsed tahoe.cfg: an INI file in the dialect of Python's
// ConfigParser, as Tahoe reads it (option names are case-insensitive,
// "=" or ":" separate names from values, full-line "#" and ";" comments,
// indented lines continue a value, later duplicates win). Values are not
// %-interpolated.
type TahoeCfg struct {
	File     string
	sections map[string]map[string]cfgValue
}

type cfgValue struct {
	val  string
	line int
}

// ParseTahoeCfg parses the contents of a tahoe.cfg named file.
func ParseTahoeCfg(file string, data []byte) (*TahoeCfg, error) {
	const op = "gridconfig.ParseTahoeCfg"
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	c := &TahoeCfg{File: file, sections: map[string]map[string]cfgValue{}}
	var sect map[string]cfgValue
	var lastKey string
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimSpace(line)
		n := i + 1
		switch {
		case trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';':
			if trimmed == "" {
				lastKey = ""
			}
		case line[0] == ' ' || line[0] == '\t':
			if sect == nil || lastKey == "" {
				return nil, errkind.E(op, errkind.Usage, "%s:%d: indented line continues no option", file, n)
			}
			v := sect[lastKey]
			v.val += "\n" + trimmed
			sect[lastKey] = v
		case line[0] == '[':
			name, ok := strings.CutSuffix(trimmed, "]")
			if !ok || len(name) < 2 {
				return nil, errkind.E(op, errkind.Usage, "%s:%d: malformed section header %q", file, n, trimmed)
			}
			name = name[1:]
			if c.sections[name] == nil {
				c.sections[name] = map[string]cfgValue{}
			}
			sect, lastKey = c.sections[name], ""
		default:
			if sect == nil {
				return nil, errkind.E(op, errkind.Usage, "%s:%d: option outside any [section]", file, n)
			}
			i := strings.IndexAny(line, "=:")
			if i <= 0 || strings.TrimSpace(line[:i]) == "" {
				return nil, errkind.E(op, errkind.Usage, "%s:%d: expected \"name = value\", got %q", file, n, trimmed)
			}
			lastKey = strings.ToLower(strings.TrimSpace(line[:i]))
			sect[lastKey] = cfgValue{val: strings.TrimSpace(line[i+1:]), line: n}
		}
	}
	return c, nil
}

// Get returns the value of option key in section, and whether it is set.
func (c *TahoeCfg) Get(section, key string) (string, bool) {
	v, ok := c.sections[section][strings.ToLower(key)]
	return v.val, ok
}

// Line returns the line on which option key of section was set, or 0.
func (c *TahoeCfg) Line(section, key string) int {
	return c.sections[section][strings.ToLower(key)].line
}

// where names the place option key of section was set, for messages.
func (c *TahoeCfg) where(section, key string) string {
	if n := c.Line(section, key); n > 0 {
		return fmt.Sprintf("%s:%d", c.File, n)
	}
	return c.File
}

// StorageNode is what a storage node's tahoe.cfg says that serve and the
// notifier honour, read as Tahoe-LAFS 1.20 reads it.
type StorageNode struct {
	// Found is whether BASE/tahoe.cfg exists; without it every field
	// holds Tahoe's default.
	Found bool
	// Nickname is [node] nickname.
	Nickname string
	// TubPort is [node] tub.port as written ("" when unset); Listen is
	// the "host:port" it says to listen on ("" when unset).
	TubPort, Listen string
	// Location is [node] tub.location split into its hints, as written
	// ("tcp:HOST:PORT", "HOST:PORT", "AUTO"); nil when unset, which
	// Tahoe reads as AUTO.
	Location []string
	// StorageEnabled is [storage] enabled (default true).
	StorageEnabled bool
	// ReadOnly is [storage] readonly (default false).
	ReadOnly bool
	// ReservedSpace is [storage] reserved_space in bytes (default 0).
	ReservedSpace uint64
	// StorageDir is [storage] storage_dir made absolute (default
	// BASE/storage).
	StorageDir string
}

// ReadStorageNode reads BASE/tahoe.cfg for a storage node. A missing file
// is Tahoe's defaults; a value Tahoe would refuse is an errkind.Usage
// error naming the file and line.
func ReadStorageNode(base string) (*StorageNode, error) {
	f := filepath.Join(base, "tahoe.cfg")
	n := &StorageNode{StorageEnabled: true, StorageDir: filepath.Join(base, "storage")}
	data, err := readOptional(f)
	if err != nil || data == nil {
		return n, err
	}
	cfg, err := ParseTahoeCfg(f, data)
	if err != nil {
		return nil, err
	}
	n.Found = true
	if err := n.fromCfg(cfg, base); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *StorageNode) fromCfg(cfg *TahoeCfg, base string) error {
	n.Nickname, _ = cfg.Get("node", "nickname")
	var err error
	if n.StorageEnabled, err = cfg.Bool("storage", "enabled", true); err != nil {
		return err
	}
	if n.ReadOnly, err = cfg.Bool("storage", "readonly", false); err != nil {
		return err
	}
	if reveal, err := cfg.Bool("node", "reveal-IP-address", true); err != nil {
		return err
	} else if !reveal {
		return errkind.E(tcfgOp, errkind.Usage, "%s: reveal-IP-address = false needs Tor or I2P, which tahoe-watch does not speak",
			cfg.where("node", "reveal-IP-address"))
	}
	if v, ok := cfg.Get("storage", "reserved_space"); ok && v != "" {
		if n.ReservedSpace, err = ParseSize(v); err != nil {
			return errkind.E(tcfgOp, errkind.Usage, "%s: reserved_space: %v", cfg.where("storage", "reserved_space"), err)
		}
	}
	if v, ok := cfg.Get("storage", "storage_dir"); ok && v != "" {
		n.StorageDir = absUnder(base, v)
	}
	if err := n.tubPort(cfg); err != nil {
		return err
	}
	if v, ok := cfg.Get("node", "tub.location"); ok {
		if n.Location, err = SplitLocation(v); err != nil {
			return errkind.E(tcfgOp, errkind.Usage, "%s: tub.location: %v", cfg.where("node", "tub.location"), err)
		}
	}
	return nil
}

const tcfgOp = "config"

func (n *StorageNode) tubPort(cfg *TahoeCfg) error {
	v, ok := cfg.Get("node", "tub.port")
	if !ok {
		return nil
	}
	n.TubPort = v
	listen, err := ParseTubPort(v)
	if err != nil {
		return errkind.E(tcfgOp, errkind.Usage, "%s: tub.port: %v", cfg.where("node", "tub.port"), err)
	}
	n.Listen = listen
	return nil
}

// absUnder resolves a tahoe.cfg path as Tahoe does: ~ expanded, relative
// paths taken from the node directory.
func absUnder(base, p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

// Bool reads a boolean option as Python's ConfigParser does (1, yes,
// true, on / 0, no, false, off, any case); def when unset or empty.
func (c *TahoeCfg) Bool(section, key string, def bool) (bool, error) {
	v, ok := c.Get(section, key)
	if !ok || v == "" {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, errkind.E(tcfgOp, errkind.Usage, "%s: %s = %q is not a boolean (true or false)", c.where(section, key), key, v)
}

// ParseSize parses a size as Tahoe's parse_abbreviated_size does: digits,
// then optionally k, M or G (powers of 1000), or Ki, Mi, Gi (powers of
// 1024), then optionally B, any case: "1G", "500MB", "10GiB", "4096".
func ParseSize(s string) (uint64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size (like 1G, 500MB or 10GiB)", s)
	}
	num, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	if !sizeSuffix.MatchString(s[i:]) {
		return 0, fmt.Errorf("%q is not a size (like 1G, 500MB or 10GiB)", s)
	}
	suffix := strings.TrimSuffix(strings.ToUpper(s[i:]), "B")
	mult, ok := map[string]uint64{"": 1, "I": 1, "K": 1e3, "M": 1e6, "G": 1e9, "KI": 1 << 10, "MI": 1 << 20, "GI": 1 << 30}[suffix]
	if !ok {
		return 0, fmt.Errorf("%q is not a size (like 1G, 500MB or 10GiB)", s)
	}
	if num > (1<<64-1)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return num * mult, nil
}

// sizeSuffix is the unit part Tahoe accepts after the digits.
var sizeSuffix = regexp.MustCompile(`^[kKmMgG]?[iB]?[bB]?$`)

// ParseTubPort turns a tub.port (a Twisted server endpoint, as Tahoe
// writes it: "tcp:3457", "tcp:3457:interface=127.0.0.1",
// "tcp:port=3457:interface=\:\:1", "tcp6:3457", or a bare port number)
// into a "host:port" to listen on. Only one TCP endpoint is supported.
func ParseTubPort(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", fmt.Errorf("must not be empty")
	case s == "disabled":
		return "", fmt.Errorf("\"disabled\": a storage node must listen")
	case strings.Contains(s, ","):
		return "", fmt.Errorf("%q lists several endpoints; tahoe-watch listens on one (give --listen)", s)
	}
	if _, err := strconv.Atoi(s); err == nil {
		s = "tcp:" + s
	}
	fields := splitEndpoint(s)
	host := "0.0.0.0"
	switch fields[0] {
	case "tcp":
	case "tcp6":
		host = "::"
	default:
		return "", fmt.Errorf("%q: only tcp endpoints are supported", s)
	}
	port := ""
	for i, f := range fields[1:] {
		k, v, named := strings.Cut(f, "=")
		switch {
		case !named && i == 0:
			port = f
		case named && k == "port":
			port = v
		case named && k == "interface":
			host = v
		case named && k == "backlog":
		default:
			return "", fmt.Errorf("%q: unsupported part %q", s, f)
		}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("%q: port %q must be a number from 1 to 65535", s, port)
	}
	return net.JoinHostPort(host, port), nil
}

// splitEndpoint splits a Twisted endpoint string at unescaped colons,
// removing the backslash escapes.
func splitEndpoint(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case s[i] == ':':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, cur.String())
}

// SplitLocation splits a tub.location into its hints, dropping empty ones.
func SplitLocation(s string) ([]string, error) {
	var out []string
	for h := range strings.SplitSeq(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty (leave it out for AUTO)")
	}
	return out, nil
}
