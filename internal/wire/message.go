// Package wire holds the Heartbeat 3.0.6 message model, its two encodings
// (netstring "###" and classic ">>>") and the authentication that signs them.
//
// A message is an ordered list of fields. Order matters: both MACs are computed
// over the exact field sequence, so a message that is decoded and re-encoded must
// keep it. Lookups use the first field with a given name, as Heartbeat does.
package wire

// FieldType is the type code Heartbeat writes as "(T)" on the wire.
type FieldType uint8

const (
	TypeString FieldType = 0
	TypeBinary FieldType = 1
	// Types 2..4 (struct, list, compress) never occur in R1 traffic; the
	// decoder refuses them rather than guessing at their layout.
)

// Field is one (type, name, value) triple. Value holds raw bytes for both
// string and binary fields.
type Field struct {
	Type  FieldType
	Name  string
	Value []byte
}

// Message is an ordered list of fields.
type Message struct {
	Fields []Field
}

// New returns a message whose first field is t=<typ>.
func New(typ string) *Message {
	m := &Message{}
	m.Set("t", typ)
	return m
}

// Get returns the value of the first field named name.
func (m *Message) Get(name string) (string, bool) {
	if m == nil {
		return "", false
	}
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			return string(m.Fields[i].Value), true
		}
	}
	return "", false
}

// Value returns the value of the first field named name, or "".
func (m *Message) Value(name string) string {
	v, _ := m.Get(name)
	return v
}

// Binary returns the raw value of the first field named name.
func (m *Message) Binary(name string) ([]byte, bool) {
	if m == nil {
		return nil, false
	}
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			return m.Fields[i].Value, true
		}
	}
	return nil, false
}

// Type is the message type (field "t").
func (m *Message) Type() string { return m.Value("t") }

// Set modifies the first field named name in place, or appends a string field.
// Modifying in place is what Heartbeat does when it adds its standard fields,
// and it keeps the field order (and therefore the MACs) of relayed messages.
func (m *Message) Set(name, value string) {
	m.set(TypeString, name, []byte(value))
}

// SetBinary is Set for a binary field (e.g. srcuuid, 16 raw bytes).
func (m *Message) SetBinary(name string, value []byte) {
	m.set(TypeBinary, name, append([]byte(nil), value...))
}

func (m *Message) set(t FieldType, name string, value []byte) {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			m.Fields[i].Type = t
			m.Fields[i].Value = value
			return
		}
	}
	m.Fields = append(m.Fields, Field{Type: t, Name: name, Value: value})
}

// Del removes every field named name.
func (m *Message) Del(name string) {
	out := m.Fields[:0]
	for _, f := range m.Fields {
		if f.Name != name {
			out = append(out, f)
		}
	}
	m.Fields = out
}

// Clone returns a deep copy.
func (m *Message) Clone() *Message {
	// One backing array for all values: a clone per transmitted copy is
	// the simulator's hottest allocation. Each value is capped at its own
	// length, so an append to one can never write into the next.
	n := 0
	for _, f := range m.Fields {
		n += len(f.Value)
	}
	buf := make([]byte, 0, n)
	c := &Message{Fields: make([]Field, len(m.Fields))}
	for i, f := range m.Fields {
		start := len(buf)
		buf = append(buf, f.Value...)
		c.Fields[i] = Field{Type: f.Type, Name: f.Name, Value: buf[start:len(buf):len(buf)]}
	}
	return c
}
