package wire

import (
	"errors"
	"fmt"
)

// Error classes. Every error Decode returns wraps exactly one of them, so
// the receive path can count drops per class (errors.Is) and log them the
// way an admin of Heartbeat expects.
var (
	// ErrFormat: the bytes are not a well-formed Heartbeat message.
	ErrFormat = errors.New("malformed message")
	// ErrAuth: the message is well formed but its authentication is missing,
	// unreadable, uses an unknown key index, or does not match.
	ErrAuth = errors.New("failed authentication")
	// ErrTooBig: the packet or message exceeds a size limit (§1.5).
	ErrTooBig = errors.New("message too big")
	// ErrUnsupported: a well-formed field of a type R1 never sends
	// (struct, list, compressed: types 2..4). Refused rather than guessed at.
	ErrUnsupported = errors.New("unsupported field type")
)

// Format is the wire encoding of a message.
type Format uint8

const (
	FormatUnknown   Format = iota
	FormatNetstring        // "###\n" ... "%%%\n" + trailer (§1.1)
	FormatClassic          // ">>>\n" ... "<<<\n" (§1.2)
)

func (f Format) String() string {
	switch f {
	case FormatNetstring:
		return "netstring"
	case FormatClassic:
		return "classic"
	}
	return "unknown"
}

// DecodeError describes why a packet was dropped.
type DecodeError struct {
	Kind   error  // ErrFormat, ErrAuth, ErrTooBig or ErrUnsupported
	Format Format // which encoding the first bytes announced
	// Src is the sender's node name when the fields could be parsed (it is
	// still untrusted: the message failed). Empty otherwise.
	Src string
	// Offset is the byte offset where parsing failed (-1 if not applicable).
	Offset int
	Reason string
}

func (e *DecodeError) Error() string {
	var where string
	if e.Src != "" {
		// Heartbeat's wording for classic packets: "node [pa2] failed authentication".
		where = fmt.Sprintf(" from node [%s]", e.Src)
	}
	at := ""
	if e.Offset >= 0 {
		at = fmt.Sprintf(" at byte %d", e.Offset)
	}
	return fmt.Sprintf("%s message%s: %v%s: %s", e.Format, where, e.Kind, at, e.Reason)
}

func (e *DecodeError) Unwrap() error { return e.Kind }

func formatErr(f Format, off int, format string, args ...any) error {
	return &DecodeError{Kind: ErrFormat, Format: f, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

func authErr(f Format, src string, format string, args ...any) error {
	return &DecodeError{Kind: ErrAuth, Format: f, Src: src, Offset: -1, Reason: fmt.Sprintf(format, args...)}
}
