package watcher

// byServer holds one value per server ID for a cap: a slice, as a map of
// a few servers costs several times as much for each of many caps.
type byServer[T any] []serverValue[T]

type serverValue[T any] struct {
	id string
	v  T
}

// get returns server id's value, and whether it has one.
func (t byServer[T]) get(id string) (T, bool) {
	for _, s := range t {
		if s.id == id {
			return s.v, true
		}
	}
	var zero T
	return zero, false
}

// set sets server id's value.
func (t *byServer[T]) set(id string, v T) {
	for i := range *t {
		if (*t)[i].id == id {
			(*t)[i].v = v
			return
		}
	}
	*t = append(*t, serverValue[T]{id, v})
}
