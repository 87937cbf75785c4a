package dirop

import (
	"encoding/json"
	"testing"
)

// FuzzRelinked merges an entry's old metadata (written by whoever wrote
// the directory before: hostile) with the fresh metadata of a relink:
// no panic, the result is JSON, and a usable old linkcrtime survives.
func FuzzRelinked(f *testing.F) {
	fresh := `{"tahoe":{"linkcrtime":2,"linkmotime":2}}`
	f.Add(`{"tahoe":{"linkcrtime":1,"linkmotime":1},"mtime":7}`, fresh)
	f.Add(`{"tahoe":null}`, fresh)
	f.Add(`{"tahoe":[1]}`, `{"tahoe":{}}`)
	f.Add(`null`, fresh)
	f.Add(`{"tahoe":{"linkcrtime":1}}`, `{"tahoe":null}`)
	f.Add(`{"tahoe":{"linkcrtime":1}}`, `{}`)
	f.Fuzz(func(t *testing.T, old, fresh string) {
		out := relinked(json.RawMessage(old), json.RawMessage(fresh))
		if !json.Valid([]byte(fresh)) {
			return // a fresh link's metadata is ours and always JSON
		}
		if !json.Valid(out) {
			t.Fatalf("relinked(%q, %q) = %q, not JSON", old, fresh, out)
		}
		oldCr, ok := tahoeKey([]byte(old), "linkcrtime")
		if !ok {
			return
		}
		if _, ok := tahoeKey([]byte(fresh), "linkmotime"); !ok {
			return // no tahoe mapping to keep it in
		}
		if cr, _ := tahoeKey(out, "linkcrtime"); cr != oldCr {
			t.Fatalf("linkcrtime %s, want the old %s", cr, oldCr)
		}
	})
}

// tahoeKey returns md["tahoe"][key] as JSON text, matching keys exactly
// as relinked does.
func tahoeKey(md []byte, key string) (string, bool) {
	var m, tm map[string]json.RawMessage
	if json.Unmarshal(md, &m) != nil || json.Unmarshal(m["tahoe"], &tm) != nil {
		return "", false
	}
	v, ok := tm[key]
	return string(v), ok
}
