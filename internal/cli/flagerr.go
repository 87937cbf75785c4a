package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
)

// flagError is every command's flag error, a usage error. A value of the
// wrong type says what the flag wants instead of the parser's own text,
// which names Go functions (strconv.ParseInt, time: ...).
func flagError(err error) error {
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) {
		if want, ok := flagWants[ive.GetFlag().Value.Type()]; ok {
			err = fmt.Errorf("--%s %q: want %s", ive.GetFlag().Name, ive.GetValue(), want)
		}
	}
	return &usageError{err}
}

// flagWants describes the values of each pflag type our flags use.
var flagWants = map[string]string{
	"duration": "a duration with a unit, such as 500ms, 30s, 5m or 1h30m",
	"int":      "a whole number",
	"int64":    "a whole number",
	"uint":     "a whole number, 0 or more",
	"uint64":   "a whole number, 0 or more",
	"bool":     "true or false",
	"float64":  "a number",
}
