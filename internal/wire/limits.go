package wire

import (
	"bytes"
	"fmt"
	"strings"
)

// Size limits (§1.5). Heartbeat sizes its UDP read buffer and its encoder to
// MAXMSG; the decoder adds its own bounds so a hostile datagram can cost at
// most a small, fixed amount of memory.
const (
	// MaxPacketSize is Heartbeat's MAXMSG. Heartbeat reads at most
	// MAXMSG-1 bytes and refuses to encode a message of MAXMSG or more, so a
	// packet of this size or larger is never valid in either direction.
	MaxPacketSize = 262144
	// MaxFields bounds the field count. Heartbeat has no limit, but R1
	// messages carry about a dozen fields and the largest (API replies) a
	// few dozen; 1024 leaves a wide margin.
	MaxFields = 1024
	// MaxNameLen bounds a field name. Heartbeat's own names are under 20
	// bytes; names are also used in log lines.
	MaxNameLen = 256
)

// Field names Heartbeat puts in nearly every packet. Decoding reuses these
// strings instead of allocating one per field per packet.
var knownNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"t", "st", "dt", "protocol", "src", "srcuuid", "seq", "hg", "ts", "ld",
		"ttl", "auth", "dest", "destuuid", "info", "firstseq", "lastseq",
		"ackseq", "rsc_hold", "comment", "nodelist", "num_ping_nodes",
		"reqnodes", "repnodes", "delnodelist", "fromid", "toid", "clientid",
	} {
		m[n] = n
	}
	return m
}()

func internName(b []byte) string {
	if s, ok := knownNames[string(b)]; ok {
		return s
	}
	return string(b)
}

// checkName enforces what both encodings need from a field name: netstring
// splits name from value at the first '=', classic also ends a field at
// CR/LF and reads a leading "(T)" as a type, and Heartbeat handles names as
// C strings.
func checkName(name string) error {
	switch {
	case len(name) == 0:
		return fmt.Errorf("empty field name")
	case len(name) > MaxNameLen:
		return fmt.Errorf("field name of %d bytes exceeds %d", len(name), MaxNameLen)
	case name[0] == '(':
		return fmt.Errorf("field name %.40q starts with '('", name)
	case strings.ContainsAny(name, "=\r\n\x00"):
		return fmt.Errorf("field name %.40q contains '=', CR, LF or NUL", name)
	}
	return nil
}

// checkStringValue: Heartbeat stores string values as C strings, so a NUL
// would silently cut the value (and the classic rendering the inner auth
// covers) short.
func checkStringValue(v []byte) error {
	if bytes.IndexByte(v, 0) >= 0 {
		return fmt.Errorf("string value contains NUL")
	}
	return nil
}

// checkField validates one field for encoding.
func checkField(f *Field) error {
	if err := checkName(f.Name); err != nil {
		return err
	}
	switch f.Type {
	case TypeString:
		if err := checkStringValue(f.Value); err != nil {
			return fmt.Errorf("field %q: %w", f.Name, err)
		}
	case TypeBinary:
	default:
		return fmt.Errorf("field %q: type %d is not supported (only string and binary)", f.Name, f.Type)
	}
	return nil
}
