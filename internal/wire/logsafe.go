package wire

import (
	"errors"
	"strings"
)

// SrcOf is the sender named by a packet that failed to decode, fit for a
// log line: it is attacker-controlled, so it is cut to 64 bytes and every
// byte outside printable ASCII becomes '?'. "?" when the packet named
// none. It reads what Decode already parsed: a failed packet is never
// parsed twice.
func SrcOf(err error) string {
	var de *DecodeError
	if !errors.As(err, &de) || de.Src == "" {
		return "?"
	}
	s := de.Src
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
