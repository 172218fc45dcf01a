package wire

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
)

// Markers of the two encodings.
const (
	netstringStart = "###\n"
	netstringEnd   = "%%%\n"
	classicStart   = ">>>\n"
	classicEnd     = "<<<\n"
	// authField is the name of the inner (classic-style) authentication field.
	authField = "auth"
)

// InnerAuth says whether a netstring packet carries the classic-style
// "auth" field besides its trailer. Heartbeat adds it with the default
// `msgfmt classic` and leaves it out with `msgfmt netstring` (§1.3).
type InnerAuth bool

const (
	WithInnerAuth    InnerAuth = true
	WithoutInnerAuth InnerAuth = false
)

// Seal encodes m the way Heartbeat 3.0.6 sends every UDP packet with its
// default settings: netstring fields including an inner "auth" field, then
// the trailer, both signed with the active key. m is not modified.
func (r *Keyring) Seal(m *Message) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("seal: no keyring")
	}
	return Encode(m, r.Active, WithInnerAuth)
}

// Encode renders m in netstring format signed with k (§1.1, §2.3).
//
// With WithInnerAuth the "auth" field is computed over the classic rendering
// of every other field and put where the message's first "auth" field is, or
// appended as the last field (after "ttl", as in the captures); further
// "auth" fields are dropped. With WithoutInnerAuth every "auth" field is
// dropped. Encoding a decoded packet with the key that signed it therefore
// reproduces its bytes exactly. m is not modified.
func Encode(m *Message, k Key, inner InnerAuth) ([]byte, error) {
	if m == nil || len(m.Fields) == 0 {
		return nil, fmt.Errorf("encode: empty message")
	}
	if len(m.Fields) > MaxFields {
		return nil, fmt.Errorf("encode: %d fields exceed the limit of %d: %w", len(m.Fields), MaxFields, ErrTooBig)
	}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	size := len(netstringStart) + len(netstringEnd)
	for i := range m.Fields {
		f := &m.Fields[i]
		if err := checkField(f); err != nil {
			return nil, fmt.Errorf("encode: field %d: %w", i, err)
		}
		if f.Name != authField {
			size += netstringFieldLen(len(f.Name), len(f.Value))
		}
	}
	var innerTok []byte
	if inner {
		var err error
		if innerTok, err = classicAuthToken(m.Fields, k); err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
		size += netstringFieldLen(len(authField), len(innerTok))
	}
	// The trailer: "<len>:<idx> <hex>," is at most 2+1+2+1+64+1 bytes.
	const maxTrailer = 72
	if size+maxTrailer >= MaxPacketSize {
		return nil, fmt.Errorf("encode: message of %d bytes exceeds %d: %w", size, MaxPacketSize, ErrTooBig)
	}

	buf := make([]byte, 0, size+maxTrailer)
	buf = append(buf, netstringStart...)
	authDone := false
	for i := range m.Fields {
		f := &m.Fields[i]
		if f.Name == authField {
			if bool(inner) && !authDone {
				buf = appendNetstringField(buf, TypeString, authField, innerTok)
				authDone = true
			}
			continue
		}
		buf = appendNetstringField(buf, f.Type, f.Name, f.Value)
	}
	if bool(inner) && !authDone {
		buf = appendNetstringField(buf, TypeString, authField, innerTok)
	}
	buf = append(buf, netstringEnd...)

	d, _ := k.newDigester()
	d.put(buf)
	var tok [80]byte
	t := strconv.AppendInt(tok[:0], int64(k.Index), 10)
	t = append(t, ' ')
	t = d.appendHex(t)
	buf = strconv.AppendInt(buf, int64(len(t)), 10)
	buf = append(buf, ':')
	buf = append(buf, t...)
	buf = append(buf, ',')
	return buf, nil
}

// netstringFieldLen is the encoded size of "<len>:(T)name=value,".
func netstringFieldLen(nameLen, valueLen int) int {
	n := 3 + nameLen + 1 + valueLen
	return decimalLen(n) + 1 + n + 1
}

func decimalLen(n int) int {
	l := 1
	for n >= 10 {
		n /= 10
		l++
	}
	return l
}

func appendNetstringField(buf []byte, t FieldType, name string, value []byte) []byte {
	buf = strconv.AppendInt(buf, int64(3+len(name)+1+len(value)), 10)
	buf = append(buf, ':', '(', '0'+byte(t), ')')
	buf = append(buf, name...)
	buf = append(buf, '=')
	buf = append(buf, value...)
	return append(buf, ',')
}

// classicAuthToken computes the value of the "auth" field, "<idx> <hex>",
// over the classic rendering of every field not named "auth" (§2.3).
func classicAuthToken(fields []Field, k Key) ([]byte, error) {
	d, ok := k.newDigester()
	if !ok {
		return nil, fmt.Errorf("key %d: unknown authentication method %q", k.Index, k.Method)
	}
	var scratch [512]byte
	text, err := appendClassicFields(scratch[:0], fields)
	if err != nil {
		return nil, err
	}
	d.put(text)
	tok := strconv.AppendInt(make([]byte, 0, 3+k.Method.hexLen()), int64(k.Index), 10)
	tok = append(tok, ' ')
	return d.appendHex(tok), nil
}

// appendClassicFields renders fields (except "auth") in classic form
// without the >>> / <<< markers: "name=value\n" with LF in values sent as
// 0x13, or "(1)name=<base64>\n" for binary values.
func appendClassicFields(dst []byte, fields []Field) ([]byte, error) {
	for i := range fields {
		f := &fields[i]
		if f.Name == authField {
			continue
		}
		switch f.Type {
		case TypeString:
			dst = append(dst, f.Name...)
			dst = append(dst, '=')
			n := len(dst)
			dst = append(dst, f.Value...)
			for j, c := range dst[n:] {
				if c == '\n' {
					dst[n+j] = 0x13
				}
			}
		case TypeBinary:
			dst = append(dst, "(1)"...)
			dst = append(dst, f.Name...)
			dst = append(dst, '=')
			dst = base64.StdEncoding.AppendEncode(dst, f.Value)
		default:
			return nil, fmt.Errorf("field %q: type %d has no classic rendering here", f.Name, f.Type)
		}
		dst = append(dst, '\n')
	}
	return dst, nil
}

// EncodeClassic renders m in classic format signed with k through its "auth"
// field (§1.2): what Heartbeat writes on serial lines and what older
// Heartbeats send over UDP. No trailing NUL is added (serial and FIFO text
// carry none; an old-style UDP sender appends one itself).
//
// Classic cannot carry an empty string value (3.0.6 rejects the whole
// message: heartbeat sends a single blank instead) nor a CR inside a value
// (it ends the field), so both are refused. m is not modified.
func EncodeClassic(m *Message, k Key) ([]byte, error) {
	if m == nil || len(m.Fields) == 0 {
		return nil, fmt.Errorf("encode classic: empty message")
	}
	if len(m.Fields) > MaxFields {
		return nil, fmt.Errorf("encode classic: %d fields exceed the limit of %d: %w", len(m.Fields), MaxFields, ErrTooBig)
	}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("encode classic: %w", err)
	}
	for i := range m.Fields {
		f := &m.Fields[i]
		if err := checkField(f); err != nil {
			return nil, fmt.Errorf("encode classic: field %d: %w", i, err)
		}
		if f.Name == authField {
			continue
		}
		if len(f.Value) == 0 {
			return nil, fmt.Errorf("encode classic: field %q: empty value cannot be sent in classic format", f.Name)
		}
		if f.Type == TypeString && bytes.IndexByte(f.Value, '\r') >= 0 {
			return nil, fmt.Errorf("encode classic: field %q: value contains CR", f.Name)
		}
	}
	tok, err := classicAuthToken(m.Fields, k)
	if err != nil {
		return nil, fmt.Errorf("encode classic: %w", err)
	}
	out := make([]byte, 0, 2*len(classicStart)+64+8*len(m.Fields))
	out = append(out, classicStart...)
	// The auth field keeps the position of an existing one, else goes last,
	// exactly as in the netstring encoding.
	authDone := false
	for i := range m.Fields {
		if m.Fields[i].Name == authField {
			if !authDone {
				out = appendClassicAuth(out, tok)
				authDone = true
			}
			continue
		}
		if out, err = appendClassicFields(out, m.Fields[i:i+1]); err != nil {
			return nil, fmt.Errorf("encode classic: %w", err)
		}
	}
	if !authDone {
		out = appendClassicAuth(out, tok)
	}
	out = append(out, classicEnd...)
	if len(out) >= MaxPacketSize {
		return nil, fmt.Errorf("encode classic: message of %d bytes exceeds %d: %w", len(out), MaxPacketSize, ErrTooBig)
	}
	return out, nil
}

func appendClassicAuth(dst, tok []byte) []byte {
	dst = append(dst, authField...)
	dst = append(dst, '=')
	dst = append(dst, tok...)
	return append(dst, '\n')
}
