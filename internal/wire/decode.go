package wire

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Packet is a decoded datagram with what the receive path may want to log
// or count besides the message itself.
type Packet struct {
	Msg    *Message
	Format Format
	// KeyIndex is the authkeys index the packet claims (trailer for
	// netstring, "auth" field for classic); -1 if it carries none.
	KeyIndex int
	// Verified is true when the authentication named by KeyIndex matched.
	// Always true for a Packet returned by Decode without error.
	Verified bool
}

// HasInnerAuth reports whether the message carries an "auth" field (a
// netstring sender with the default `msgfmt classic`, or any classic one).
func (p *Packet) HasInnerAuth() bool {
	_, ok := p.Msg.Get(authField)
	return ok
}

// Decode parses and authenticates one datagram (UDP payload, ICMP payload
// of a ping node, or one classic text block) and returns its message.
// See DecodePacket.
func Decode(pkt []byte, r *Keyring) (*Message, error) {
	p, err := DecodePacket(pkt, r)
	if err != nil {
		return nil, err
	}
	return p.Msg, nil
}

// DecodePacket parses and authenticates one datagram. The first four bytes
// decide the format, as in Heartbeat: "###\n" netstring, ">>>\n" classic.
//
// Netstring: only the trailer is verified (§2.4); an inner "auth" field is
// kept as a field but not checked, exactly as 3.0.6 does.
//
// Key choice (deliberate difference from 3.0.6): the trailer's key index
// selects both the algorithm and the secret of that index from r. Heartbeat
// 3.0.6 takes the algorithm from the index but always uses its own signing
// key; with the usual single-key authkeys the two are identical, and with
// several keys (rotation) ours accepts what the peer really signed with the
// key it names, which is what the admin configured the extra keys for.
//
// Classic: the "auth" field is verified with the algorithm and secret of its
// index over the classic rendering of the other fields.
//
// Every error wraps ErrFormat, ErrAuth, ErrTooBig or ErrUnsupported and is a
// *DecodeError. The returned message owns its memory (pkt may be reused).
func DecodePacket(pkt []byte, r *Keyring) (*Packet, error) {
	if r == nil {
		return nil, fmt.Errorf("decode: no keyring")
	}
	return decode(pkt, r)
}

// Parse decodes a datagram without checking any authentication. It exists
// for diagnostics (packet dumps, tests); nothing it returns may be trusted
// or acted upon by the daemon.
func Parse(pkt []byte) (*Packet, error) {
	return decode(pkt, nil)
}

func decode(pkt []byte, r *Keyring) (*Packet, error) {
	if len(pkt) >= MaxPacketSize {
		return nil, &DecodeError{Kind: ErrTooBig, Format: formatOf(pkt), Offset: -1,
			Reason: fmt.Sprintf("packet of %d bytes, limit %d", len(pkt), MaxPacketSize-1)}
	}
	switch formatOf(pkt) {
	case FormatNetstring:
		return decodeNetstring(pkt, r)
	case FormatClassic:
		return decodeClassic(pkt, r)
	}
	n := min(len(pkt), 8)
	return nil, formatErr(FormatUnknown, 0, "starts with %q, neither %q nor %q", pkt[:n], netstringStart, classicStart)
}

func formatOf(pkt []byte) Format {
	switch {
	case bytes.HasPrefix(pkt, []byte(netstringStart)):
		return FormatNetstring
	case bytes.HasPrefix(pkt, []byte(classicStart)):
		return FormatClassic
	}
	return FormatUnknown
}

// peelNetstring reads "<len>:<data>," at buf[pos:]. The length must be
// canonical decimal (no sign, no leading zero, no spaces: 3.0.6 never sends
// anything else) and is checked against the remaining bytes before use, so
// a hostile length never causes an allocation or an out-of-range slice.
func peelNetstring(f Format, buf []byte, pos int) (data []byte, next int, err error) {
	start := pos
	n := 0
	for pos < len(buf) && buf[pos] >= '0' && buf[pos] <= '9' {
		if pos-start >= 6 { // MaxPacketSize has 6 digits
			return nil, 0, formatErr(f, start, "netstring length has more than 6 digits")
		}
		n = n*10 + int(buf[pos]-'0')
		pos++
	}
	switch {
	case pos == start:
		if pos >= len(buf) {
			return nil, 0, formatErr(f, start, "truncated: netstring expected")
		}
		return nil, 0, formatErr(f, start, "netstring length expected, found %q", buf[pos])
	case buf[start] == '0' && pos-start > 1:
		return nil, 0, formatErr(f, start, "netstring length with leading zero")
	case pos >= len(buf):
		return nil, 0, formatErr(f, start, "truncated netstring length")
	case buf[pos] != ':':
		return nil, 0, formatErr(f, pos, "netstring length not followed by ':' but %q", buf[pos])
	}
	pos++
	if n >= len(buf)-pos { // need n data bytes plus ','
		return nil, 0, formatErr(f, start, "netstring length %d exceeds the %d bytes left", n, len(buf)-pos)
	}
	data = buf[pos : pos+n]
	pos += n
	if buf[pos] != ',' {
		return nil, 0, formatErr(f, pos, "netstring not terminated by ','")
	}
	return data, pos + 1, nil
}

func decodeNetstring(pkt []byte, r *Keyring) (*Packet, error) {
	const f = FormatNetstring
	// One copy: field values alias it, so the caller may reuse pkt.
	buf := bytes.Clone(pkt)
	m := &Message{Fields: make([]Field, 0, 16)}
	pos := len(netstringStart)
	for !bytes.HasPrefix(buf[pos:], []byte(netstringEnd)) {
		if len(m.Fields) == MaxFields {
			return nil, &DecodeError{Kind: ErrTooBig, Format: f, Offset: pos,
				Reason: fmt.Sprintf("more than %d fields", MaxFields)}
		}
		item, next, err := peelNetstring(f, buf, pos)
		if err != nil {
			return nil, err
		}
		fld, err := parseNetstringField(item, pos)
		if err != nil {
			return nil, err
		}
		m.Fields = append(m.Fields, fld)
		pos = next
	}
	if len(m.Fields) == 0 {
		return nil, formatErr(f, pos, "message has no fields")
	}
	bodyEnd := pos + len(netstringEnd)
	p := &Packet{Msg: m, Format: f, KeyIndex: -1}
	if bodyEnd == len(buf) {
		if r == nil {
			return p, nil
		}
		// Heartbeat logs "peel_netstring() error in getting auth string".
		return nil, authErr(f, srcOf(m), "no authentication trailer")
	}
	tok, next, err := peelNetstring(f, buf, bodyEnd)
	if err != nil {
		return nil, err
	}
	if next != len(buf) {
		// 3.0.6 never sends anything after the trailer (not even a NUL).
		return nil, formatErr(f, next, "%d bytes after the authentication trailer", len(buf)-next)
	}
	idx, digest, err := parseAuthToken(tok)
	if err != nil {
		return nil, authErr(f, srcOf(m), "bad/invalid netstring auth string %.80q: %v", tok, err)
	}
	p.KeyIndex = idx
	if r == nil {
		return p, nil
	}
	k, ok := r.Lookup(idx)
	if !ok {
		return nil, authErr(f, srcOf(m), "invalid authentication type [%d] in message (no such key)", idx)
	}
	d, ok := k.newDigester()
	if !ok {
		return nil, authErr(f, srcOf(m), "key %d has unknown method %q", idx, k.Method)
	}
	d.put(buf[:bodyEnd])
	var sum [64]byte
	if !equalDigest(d.appendHex(sum[:0]), digest) {
		return nil, authErr(f, srcOf(m), "trailer does not match (key %d, %s)", idx, k.Method)
	}
	p.Verified = true
	return p, nil
}

// parseNetstringField splits "(T)name=value". off is the item's offset in
// the packet, for error messages.
func parseNetstringField(item []byte, off int) (Field, error) {
	const f = FormatNetstring
	if len(item) < 5 || item[0] != '(' || item[2] != ')' || item[1] < '0' || item[1] > '9' {
		return Field{}, formatErr(f, off, "field %.40q lacks a \"(T)name=\" prefix", item)
	}
	t := FieldType(item[1] - '0')
	rest := item[3:]
	eq := bytes.IndexByte(rest, '=')
	if eq < 0 {
		return Field{}, formatErr(f, off, "field %.40q has no '='", item)
	}
	fld := Field{Type: t, Name: internName(rest[:eq]), Value: rest[eq+1:]}
	if err := checkDecodedField(&fld); err != nil {
		return Field{}, withOffset(err, f, off)
	}
	return fld, nil
}

// checkDecodedField applies the field rules shared by both formats.
func checkDecodedField(fld *Field) error {
	if err := checkName(fld.Name); err != nil {
		return err
	}
	switch fld.Type {
	case TypeString:
		if err := checkStringValue(fld.Value); err != nil {
			return fmt.Errorf("field %q: %w", fld.Name, err)
		}
	case TypeBinary:
	case 2, 3, 4:
		return &DecodeError{Kind: ErrUnsupported, Offset: -1,
			Reason: fmt.Sprintf("field %q has type %d (%s), which R1 never sends", fld.Name, fld.Type, typeName(fld.Type))}
	default:
		return fmt.Errorf("field %q has unknown type %d", fld.Name, fld.Type)
	}
	return nil
}

// withOffset turns a field rule violation into a DecodeError.
func withOffset(err error, f Format, off int) error {
	if de, ok := err.(*DecodeError); ok {
		de.Format, de.Offset = f, off
		return de
	}
	return formatErr(f, off, "%v", err)
}

func typeName(t FieldType) string {
	switch t {
	case 2:
		return "struct"
	case 3:
		return "list"
	case 4:
		return "compress"
	}
	return "?"
}

// parseAuthToken splits "<idx> <hex>" (trailer data or "auth" value).
// Heartbeat reads it with sscanf("%d %s") and compares strings; we accept
// only what Heartbeat writes: a decimal index 0..15, one blank, lower-case
// hex of at most 64 digits.
func parseAuthToken(tok []byte) (idx int, digest []byte, err error) {
	sp := bytes.IndexByte(tok, ' ')
	if sp < 1 || sp > 2 {
		return 0, nil, fmt.Errorf("want \"<index> <hex>\"")
	}
	if sp == 2 && tok[0] == '0' {
		return 0, nil, fmt.Errorf("key index with leading zero")
	}
	for _, c := range tok[:sp] {
		if c < '0' || c > '9' {
			return 0, nil, fmt.Errorf("key index is not a number")
		}
		idx = idx*10 + int(c-'0')
	}
	if idx > MaxKeyIndex {
		return 0, nil, fmt.Errorf("key index %d out of range 0..%d", idx, MaxKeyIndex)
	}
	digest = tok[sp+1:]
	if len(digest) == 0 || len(digest) > 64 {
		return 0, nil, fmt.Errorf("digest of %d characters", len(digest))
	}
	for _, c := range digest {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0, nil, fmt.Errorf("digest is not lower-case hex")
		}
	}
	return idx, digest, nil
}

// srcOf returns the claimed sender for log lines: the "src" field, quoted
// if it is not a plain printable name, cut to Heartbeat's HOSTLENG.
func srcOf(m *Message) string {
	v, ok := m.Binary("src")
	if !ok {
		return ""
	}
	if len(v) > 100 {
		v = v[:100]
	}
	for _, c := range v {
		if c <= ' ' || c >= 0x7f || c == '[' || c == ']' {
			return strconv.QuoteToASCII(string(v))
		}
	}
	if !utf8.Valid(v) {
		return strconv.QuoteToASCII(string(v))
	}
	return string(v)
}

func decodeClassic(pkt []byte, r *Keyring) (*Packet, error) {
	const f = FormatClassic
	buf := bytes.Clone(pkt)
	m := &Message{Fields: make([]Field, 0, 16)}
	pos := len(classicStart)
	end := -1
	for {
		// Like Heartbeat, skip runs of CR/LF between fields.
		for pos < len(buf) && (buf[pos] == '\n' || buf[pos] == '\r') {
			pos++
		}
		if pos >= len(buf) {
			return nil, formatErr(f, pos, "truncated: no end marker %q", classicEnd)
		}
		if bytes.HasPrefix(buf[pos:], []byte(classicEnd)) {
			end = pos + len(classicEnd)
			break
		}
		if len(m.Fields) == MaxFields {
			return nil, &DecodeError{Kind: ErrTooBig, Format: f, Offset: pos,
				Reason: fmt.Sprintf("more than %d fields", MaxFields)}
		}
		eol := bytes.IndexAny(buf[pos:], "\r\n")
		if eol < 0 {
			return nil, formatErr(f, pos, "truncated: field line without newline")
		}
		fld, err := parseClassicLine(buf[pos:pos+eol], pos)
		if err != nil {
			return nil, err
		}
		m.Fields = append(m.Fields, fld)
		pos += eol
	}
	// Older Heartbeats send the C string's terminating NUL; 3.0.6 accepts
	// both (§1.2). Anything else after the end marker is refused.
	if rest := buf[end:]; len(rest) > 1 || (len(rest) == 1 && rest[0] != 0) {
		return nil, formatErr(f, end, "%d unexpected bytes after %q", len(rest), classicEnd)
	}
	if len(m.Fields) == 0 {
		return nil, formatErr(f, pos, "message has no fields")
	}
	p := &Packet{Msg: m, Format: f, KeyIndex: -1}
	tok, ok := m.Binary(authField)
	if !ok {
		if r == nil {
			return p, nil
		}
		return nil, authErr(f, srcOf(m), "no auth field")
	}
	idx, digest, err := parseAuthToken(tok)
	if err != nil {
		return nil, authErr(f, srcOf(m), "bad/invalid auth token, authtoken=%.80q: %v", tok, err)
	}
	p.KeyIndex = idx
	if r == nil {
		return p, nil
	}
	if !verifyClassicAuth(m, r, idx, digest) {
		if _, known := r.Lookup(idx); !known {
			return nil, authErr(f, srcOf(m), "invalid authentication type [%d] in message (no such key)", idx)
		}
		return nil, authErr(f, srcOf(m), "auth field does not match (key %d)", idx)
	}
	p.Verified = true
	return p, nil
}

// parseClassicLine parses "[(T)]name=value" (no line terminator).
func parseClassicLine(line []byte, off int) (Field, error) {
	const f = FormatClassic
	t := TypeString
	if len(line) > 0 && line[0] == '(' {
		if len(line) < 3 || line[2] != ')' || line[1] < '0' || line[1] > '9' {
			return Field{}, formatErr(f, off, "bad type prefix in %.40q", line)
		}
		t = FieldType(line[1] - '0')
		line = line[3:]
	}
	eq := bytes.IndexByte(line, '=')
	if eq < 0 {
		return Field{}, formatErr(f, off, "line %.40q has no '='", line)
	}
	fld := Field{Type: t, Name: internName(line[:eq]), Value: line[eq+1:]}
	if len(fld.Value) == 0 {
		// 3.0.6 fails the whole message on "name=" in classic format.
		return Field{}, formatErr(f, off, "field %q has an empty value", fld.Name)
	}
	if err := checkDecodedField(&fld); err != nil {
		return Field{}, withOffset(err, f, off)
	}
	switch t {
	case TypeString:
		// LF travels as 0x13 in classic values; the line is ours (a copy),
		// so restore it in place.
		for i, c := range fld.Value {
			if c == 0x13 {
				fld.Value[i] = '\n'
			}
		}
	case TypeBinary:
		v, err := base64.StdEncoding.AppendDecode(nil, fld.Value)
		if err != nil {
			return Field{}, formatErr(f, off, "field %q: bad base64: %v", fld.Name, err)
		}
		fld.Value = v
	}
	return fld, nil
}

// verifyClassicAuth checks a classic-style auth digest with the key of idx.
func verifyClassicAuth(m *Message, r *Keyring, idx int, digest []byte) bool {
	k, ok := r.Lookup(idx)
	if !ok {
		return false
	}
	d, ok := k.newDigester()
	if !ok {
		return false
	}
	var scratch [512]byte
	text, err := appendClassicFields(scratch[:0], m.Fields)
	if err != nil {
		return false
	}
	d.put(text)
	var sum [64]byte
	return equalDigest(d.appendHex(sum[:0]), digest)
}

// VerifyInnerAuth checks the "auth" field of m (as carried inside default
// netstring packets, or by classic packets) against r. Heartbeat ignores
// this field on netstring input; this is for diagnostics and tests.
func VerifyInnerAuth(m *Message, r *Keyring) error {
	tok, ok := m.Binary(authField)
	if !ok {
		return authErr(FormatUnknown, srcOf(m), "no auth field")
	}
	idx, digest, err := parseAuthToken(tok)
	if err != nil {
		return authErr(FormatUnknown, srcOf(m), "bad/invalid auth token: %v", err)
	}
	if !verifyClassicAuth(m, r, idx, digest) {
		return authErr(FormatUnknown, srcOf(m), "auth field does not match (key %d)", idx)
	}
	return nil
}
