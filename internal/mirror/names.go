package mirror

import (
	"fmt"
	"path"
	"runtime"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reserved names: the state directory at the top of LOCALDIR and the
// prefix of the temporary files a write goes through.
const (
	StateDir  = ".tahoe-watch"
	tmpPrefix = ".tahoe-watch-tmp-"
)

// checkName reports why a directory entry's name cannot be written as one
// local file name, or nil if it can. top is set for entries of the root.
func checkName(name string, top bool) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case name == "." || name == "..":
		return fmt.Errorf("name %q would leave its directory", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not UTF-8", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("name %q holds a slash or NUL", name)
	case strings.HasPrefix(name, tmpPrefix):
		return fmt.Errorf("name %q is reserved for temporary files", name)
	case top && strings.EqualFold(name, StateDir):
		return fmt.Errorf("name %q is reserved for the mirror's state", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("name %q holds a control character", name)
		}
	}
	if runtime.GOOS == "windows" {
		return checkWindowsName(name)
	}
	return nil
}

// checkWindowsName refuses what Windows cannot store or would reinterpret.
func checkWindowsName(name string) error {
	if strings.ContainsAny(name, `\:*?"<>|`) || strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return fmt.Errorf("name %q is not valid on Windows", name)
	}
	base := strings.ToUpper(strings.SplitN(name, ".", 2)[0])
	switch base {
	case "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return fmt.Errorf("name %q is a reserved device name on Windows", name)
	}
	return nil
}

// foldClashes returns the names that collide with another after case
// folding; on a case-insensitive file system they are all skipped, as no
// one of them can be chosen fairly.
func foldClashes(names []string) map[string]bool {
	byFold := map[string][]string{}
	for _, n := range names {
		k := strings.ToLower(n)
		byFold[k] = append(byFold[k], n)
	}
	out := map[string]bool{}
	for _, group := range byFold {
		if len(group) > 1 {
			for _, n := range group {
				out[n] = true
			}
		}
	}
	return out
}

// maxNameBytes is the longest file name the usual file systems store
// (NAME_MAX on Linux and the BSDs; 255 UTF-16 units on NTFS and APFS
// are at least as many).
const maxNameBytes = 255

// maxExtBytes is the longest extension a shortened name keeps.
const maxExtBytes = 32

// withMarker returns rel with marker appended to its last name. When
// that name would be longer than maxNameBytes, the name's stem is
// shortened (at a UTF-8 boundary) so that stem, extension and marker
// fit: a conflict copy can always be created, and it still says what
// it is and what kind of file it holds.
func withMarker(rel, marker string) string {
	dir, base := path.Split(rel)
	if len(base)+len(marker) <= maxNameBytes {
		return rel + marker
	}
	ext := path.Ext(base)
	if len(ext) > maxExtBytes || ext == base {
		ext = ""
	}
	stem := base[:len(base)-len(ext)]
	return dir + cutUTF8(stem, maxNameBytes-len(marker)-len(ext)) + ext + marker
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does
// not split a character.
func cutUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)]
}
