package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxTimeMS is the largest time value accepted: Heartbeat keeps times in a C
// long of milliseconds; 2^31-1 ms (24.8 days) is where 32-bit builds wrap,
// and no sane cluster timer comes near it.
const maxTimeMS = math.MaxInt32

// parsedTime is a time value and whether it used the heartbeatd-only "s"
// suffix that real Heartbeat rejects.
type parsedTime struct {
	d            time.Duration
	secondSuffix bool
}

// parseTime reads a ha.cf time value the way Heartbeat's cl_get_msec does:
// a decimal number (fractions allowed) of seconds, or with the suffix ms
// (milliseconds) or us/usec (microseconds), case-insensitive, rounded to the
// nearest millisecond. Heartbeat also accepts any word starting with "ms"
// ("msec"); we accept exactly ms and msec. The suffix "s" is a heartbeatd
// extension (the brief asks that "2s" work) and is reported so that the
// caller can warn. Zero and negative values are refused here because no time
// directive can use them.
func parseTime(v string) (parsedTime, error) {
	num := strings.TrimRight(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	unit := strings.ToLower(v[len(num):])
	if num == "" || !isDecimal(num) {
		return parsedTime{}, fmt.Errorf("%s is not a time", clip(v))
	}
	var mult float64
	res := parsedTime{}
	switch unit {
	case "":
		mult = 1000
	case "s":
		mult = 1000
		res.secondSuffix = true
	case "ms", "msec":
		mult = 1
	case "us", "usec":
		mult = 0.001
	default:
		return parsedTime{}, fmt.Errorf("%s is not a time: unknown unit %s (use a plain number of seconds, ms or us)", clip(v), clip(unit))
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return parsedTime{}, fmt.Errorf("%s is not a time", clip(v))
	}
	ms := math.Floor(f*mult + 0.5)
	if ms > maxTimeMS {
		return parsedTime{}, fmt.Errorf("%s is too large (at most %d ms)", clip(v), int64(maxTimeMS))
	}
	if ms <= 0 {
		return parsedTime{}, fmt.Errorf("%s must be greater than zero (values under 0.5 ms round to zero)", clip(v))
	}
	res.d = time.Duration(ms) * time.Millisecond
	return res, nil
}

// isDecimal reports whether s is digits with at most one '.', and at least
// one digit: "1", "0.5", ".5", "5.". Signs and exponents are not time syntax.
func isDecimal(s string) bool {
	digits, dots := 0, 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// formatMS renders a duration as Heartbeat prints times in its messages.
func formatMS(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}
