package gridconfig

import (
	"bytes"
	"fmt"
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
