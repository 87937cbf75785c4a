package gridconfig

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/tahoe-watch/tahoe-watch/internal/errkind"
	"github.com/tahoe-watch/tahoe-watch/internal/grid"
	"github.com/tahoe-watch/tahoe-watch/internal/nurl"
	"go.yaml.in/yaml/v3"
)

// annYAML is the part of an announcement tahoe-watch reads.
type annYAML struct {
	Nickname     string   `yaml:"nickname"`
	StorageNURLs []string `yaml:"anonymous-storage-NURLs"`
	StorageFURL  string   `yaml:"anonymous-storage-FURL"`
	Seed         string   `yaml:"permutation-seed-base32"`
	WatchNURLs   []string `yaml:"anonymous-watch-NURLs"`
}

// parseError is a file:line error of kind Usage.
func parseError(op, file string, n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return errkind.E(op, errkind.Usage, "%s:%d: %s", file, line, fmt.Sprintf(format, args...))
}

// parseDoc parses YAML into its document's root node; nil for an empty file.
func parseDoc(op, file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errkind.E(op, errkind.Usage, "%s", yamlError(file, err))
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	return root, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError rewrites "yaml: line N: msg" as "file:N: msg".
func yamlError(file string, err error) string {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return file + ":" + m[1] + ": " + msg[len(m[0]):]
	}
	return file + ": " + strings.TrimPrefix(msg, "yaml: ")
}

// lookup returns the value node of key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// ParseServersYAML parses a grid file in the schema of a Tahoe node's
// private/servers.yaml:
//
//	storage:
//	  <server id>:
//	    ann: {nickname: ..., anonymous-storage-NURLs: [...], ...}
//
// Malformed NURLs and fURLs are errors here (the file is the user's).
func ParseServersYAML(file string, data []byte) ([]*grid.ServerInfo, error) {
	const op = "gridconfig.ParseServersYAML"
	root, err := parseDoc(op, file, data)
	if err != nil || root == nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, parseError(op, file, root, "expected a mapping with a \"storage\" key")
	}
	storage := lookup(root, "storage")
	if storage == nil || storage.Tag == "!!null" {
		return nil, nil
	}
	if storage.Kind != yaml.MappingNode {
		return nil, parseError(op, file, storage, "\"storage\" must map server ids to {ann: ...}")
	}
	var out []*grid.ServerInfo
	for i := 0; i+1 < len(storage.Content); i += 2 {
		key, val := storage.Content[i], storage.Content[i+1]
		if key.Kind != yaml.ScalarNode || key.Value == "" {
			return nil, parseError(op, file, key, "server id must be a non-empty string")
		}
		if val.Kind != yaml.MappingNode || lookup(val, "ann") == nil {
			return nil, parseError(op, file, val, "server %s has no \"ann\" mapping", key.Value)
		}
		s, err := serverFromNode(op, file, key.Value, lookup(val, "ann"), true)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// ParseAnnouncementCache parses an introducer announcement cache
// (private/introducer_<petname>_cache.yaml): a list of {key_s, ann}.
// Malformed endpoints make a server unreachable rather than failing the
// whole cache, since a Tahoe node wrote it from what others announced.
func ParseAnnouncementCache(file string, data []byte) ([]*grid.ServerInfo, error) {
	const op = "gridconfig.ParseAnnouncementCache"
	root, err := parseDoc(op, file, data)
	if err != nil || root == nil {
		return nil, err
	}
	if root.Kind != yaml.SequenceNode {
		return nil, parseError(op, file, root, "expected a list of announcements")
	}
	var out []*grid.ServerInfo
	for _, item := range root.Content {
		if item.Kind != yaml.MappingNode {
			return nil, parseError(op, file, item, "announcement must be a mapping with key_s and ann")
		}
		key, ann := lookup(item, "key_s"), lookup(item, "ann")
		if key == nil || key.Kind != yaml.ScalarNode || key.Value == "" || ann == nil {
			return nil, parseError(op, file, item, "announcement needs key_s and ann")
		}
		s, err := serverFromNode(op, file, key.Value, ann, false)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// serverFromNode decodes one announcement. With strict, malformed NURLs
// are errors at their line.
func serverFromNode(op, file, id string, ann *yaml.Node, strict bool) (*grid.ServerInfo, error) {
	if ann.Kind != yaml.MappingNode {
		return nil, parseError(op, file, ann, "ann of server %s must be a mapping", id)
	}
	var a annYAML
	if err := ann.Decode(&a); err != nil {
		return nil, parseError(op, file, ann, "ann of server %s: %v", id, err)
	}
	if strict {
		if err := checkNURLs(op, file, ann, id); err != nil {
			return nil, err
		}
	}
	s, err := grid.FromAnnouncement(id, grid.Announcement{Nickname: a.Nickname, StorageNURLs: a.StorageNURLs,
		StorageFURL: a.StorageFURL, PermutationSeed: a.Seed, WatchNURLs: a.WatchNURLs})
	if err != nil {
		return nil, parseError(op, file, ann, "%v", err)
	}
	return s, nil
}

func checkNURLs(op, file string, ann *yaml.Node, id string) error {
	for _, key := range []string{"anonymous-storage-NURLs", "anonymous-watch-NURLs"} {
		seq := lookup(ann, key)
		if seq == nil {
			continue
		}
		for _, n := range seq.Content {
			if _, err := nurl.Parse(n.Value); err != nil {
				return parseError(op, file, n, "server %s: %v", id, err)
			}
		}
	}
	return nil
}
