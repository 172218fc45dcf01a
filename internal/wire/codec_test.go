package wire

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var labKey = Key{Index: 1, Method: MethodSHA1, Secret: []byte("PaLabKey-hb306-sha1")}

func labRing(t testing.TB) *Keyring {
	t.Helper()
	r, err := NewKeyring(labKey)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// specStatus is the pa2 status message of spec §1.1 without its auth field.
func specStatus() *Message {
	m := New("status")
	m.Set("st", "active")
	m.Set("dt", "1b58")
	m.Set("protocol", "1")
	m.Set("src", "pa2")
	m.SetBinary("srcuuid", []byte("\x1b$\xc2\xe6\x8f7A\xdf\x9a\xd6\x11\xff+C\xbf\x17"))
	m.Set("seq", "b")
	m.Set("hg", "6b024820")
	m.Set("ts", "6b024822")
	m.Set("ld", "0.01 0.07 0.08 1/115 24780")
	m.Set("ttl", "3")
	return m
}

// The full datagram of spec §1.1 (line breaks there are for readability).
const specDatagram = "###\n11:(0)t=status,12:(0)st=active,10:(0)dt=1b58,13:(0)protocol=1,10:(0)src=pa2," +
	"27:(1)srcuuid=\x1b$\xc2\xe6\x8f7A\xdf\x9a\xd6\x11\xff+C\xbf\x17,8:(0)seq=b,14:(0)hg=6b024820," +
	"14:(0)ts=6b024822,32:(0)ld=0.01 0.07 0.08 1/115 24780,8:(0)ttl=3," +
	"50:(0)auth=1 3891bb08ca05d7220a228faba08679a703519f9b,%%%\n42:1 463f1d6a4a9fb7f1265ae1033af46cef5f57357f,"

func TestSealSpecExample(t *testing.T) {
	m := specStatus()
	before := m.Clone()
	got, err := labRing(t).Seal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != specDatagram {
		t.Fatalf("Seal:\n got %q\nwant %q", got, specDatagram)
	}
	if diff := cmp.Diff(before, m); diff != "" {
		t.Errorf("Seal modified its message (-before +after):\n%s", diff)
	}
	dec, err := Decode(got, labRing(t))
	if err != nil {
		t.Fatal(err)
	}
	if dec.Value("auth") != "1 3891bb08ca05d7220a228faba08679a703519f9b" || dec.Fields[len(dec.Fields)-1].Name != "auth" {
		t.Errorf("decoded auth field wrong or not last: %+v", dec.Fields[len(dec.Fields)-1])
	}
	// Sealing again a message that already has an auth field replaces it
	// in place instead of appending a second one.
	again, err := labRing(t).Seal(dec)
	if err != nil || string(again) != specDatagram {
		t.Errorf("re-seal: %v\n got %q", err, again)
	}
}

func TestClassicRenderingSpecExample(t *testing.T) {
	text, err := appendClassicFields(nil, specStatus().Fields)
	if err != nil {
		t.Fatal(err)
	}
	const want = "t=status\nst=active\ndt=1b58\nprotocol=1\nsrc=pa2\n(1)srcuuid=GyTC5o83Qd+a1hH/K0O/Fw==\n" +
		"seq=b\nhg=6b024820\nts=6b024822\nld=0.01 0.07 0.08 1/115 24780\nttl=3\n"
	if string(text) != want {
		t.Fatalf("classic rendering:\n got %q\nwant %q", text, want)
	}
	d, err := labKey.Digest([]byte(want))
	if err != nil || d != "3891bb08ca05d7220a228faba08679a703519f9b" {
		t.Errorf("digest %q %v", d, err)
	}
}

func TestDigestMethods(t *testing.T) {
	// Reference values: Python hmac/hashlib and POSIX cksum (without the
	// length suffix) over the same input.
	data := []byte("123456789")
	for _, tc := range []struct {
		k    Key
		want string
	}{
		{Key{Index: 3, Method: MethodCRC}, "765e7680"},
		{Key{Index: 2, Method: MethodMD5, Secret: []byte("key")}, "5e626ae1697592837b2b50fae1fdcef7"},
		{Key{Index: 1, Method: MethodSHA1, Secret: []byte("key")}, "63cf659b66041a4f19ed01dc5f54dc7603b62c50"},
		{Key{Index: 4, Method: MethodSHA256, Secret: []byte("key")}, "4fc1aae3e34774f77bc9ed5146eb4d0c783640d5068cb413745f577b904149df"},
	} {
		got, err := tc.k.Digest(data)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: got %s want %s", tc.k.Method, got, tc.want)
		}
	}
	// POSIX cksum is the same CRC with the length appended: `printf
	// 123456789 | cksum` prints 930766865 (0x377a6011).
	if got, _ := (Key{Method: MethodCRC}).Digest(append(data, 9)); got != "377a6011" {
		t.Errorf("crc with length suffix: %s, want cksum's 377a6011", got)
	}
	// crc is printed with %lx: no zero padding. Find an input whose CRC
	// is below 0x10000000 and check it prints with fewer than 8 digits.
	for i := 0; ; i++ {
		in := []byte(strconv.Itoa(i))
		if v := ^crcUpdate(0, in); v < 0x10000000 {
			got, _ := Key{Method: MethodCRC}.Digest(in)
			if got != strconv.FormatUint(uint64(v), 16) || len(got) >= 8 {
				t.Errorf("crc(%q)=%s, want unpadded %x", in, got, v)
			}
			break
		}
	}
}

func TestKeyValidate(t *testing.T) {
	for _, k := range []Key{
		{Index: 16, Method: MethodSHA1, Secret: []byte("x")},
		{Index: -1, Method: MethodSHA1, Secret: []byte("x")},
		{Index: 1, Method: "sha512", Secret: []byte("x")},
		{Index: 1, Method: MethodSHA1},
		{Index: 3, Method: MethodCRC, Secret: []byte("x")},
	} {
		if err := k.Validate(); err == nil {
			t.Errorf("%+v: accepted", k)
		}
	}
	if _, err := NewKeyring(labKey, Key{Index: 1, Method: MethodMD5, Secret: []byte("y")}); err == nil {
		t.Error("two different keys with index 1 accepted")
	}
}

// With several keys, a netstring packet is verified with the key of the
// index it names (3.0.6 would use its own signing key; see DecodePacket).
func TestDecodeUsesKeyOfIndex(t *testing.T) {
	old := Key{Index: 2, Method: MethodMD5, Secret: []byte("old-secret")}
	pkt, err := Encode(specStatus(), old, WithInnerAuth)
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := NewKeyring(labKey, old)
	p, err := DecodePacket(pkt, ring)
	if err != nil || p.KeyIndex != 2 {
		t.Fatalf("key 2 packet with a keyring signing with 1: %v (index %d)", err, p.KeyIndex)
	}
	// Same index, other secret: rejected.
	other, _ := NewKeyring(Key{Index: 2, Method: MethodMD5, Secret: []byte("new-secret")})
	if _, err := Decode(pkt, other); !errors.Is(err, ErrAuth) {
		t.Errorf("wrong secret: %v", err)
	}
	// Unknown index: rejected as an auth failure naming the sender.
	only1 := labRing(t)
	_, err = Decode(pkt, only1)
	var de *DecodeError
	if !errors.As(err, &de) || de.Kind != ErrAuth || de.Src != "pa2" || !strings.Contains(de.Reason, "[2]") {
		t.Errorf("unknown index: %v", err)
	}
}

func TestEncodeWithoutInnerAuth(t *testing.T) {
	m := specStatus()
	m.Set("auth", "1 stale")
	pkt, err := Encode(m, labKey, WithoutInnerAuth)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(pkt, []byte("auth=")) {
		t.Errorf("auth field sent with WithoutInnerAuth: %q", pkt)
	}
	dec, err := Decode(pkt, labRing(t))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(specStatus(), dec); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestClassicRoundTrip(t *testing.T) {
	m := specStatus()
	m.Set("info", "line one\nline two = x")
	m.SetBinary("blob", []byte{0, 1, 2, 0xff, '\n'})
	pkt, err := EncodeClassic(m, labKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pkt, []byte(">>>\nt=status\n")) || !bytes.HasSuffix(pkt, []byte("<<<\n")) {
		t.Fatalf("unexpected classic text %q", pkt)
	}
	if !bytes.Contains(pkt, []byte("info=line one\x13line two = x\n")) || !bytes.Contains(pkt, []byte("(1)blob=AAEC/wo=\n")) {
		t.Errorf("classic escaping wrong: %q", pkt)
	}
	for _, in := range [][]byte{pkt, append(bytes.Clone(pkt), 0)} {
		dec, err := Decode(in, labRing(t))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		want := m.Clone()
		tok, err := classicAuthToken(m.Fields, labKey)
		if err != nil {
			t.Fatal(err)
		}
		want.Set("auth", string(tok))
		if diff := cmp.Diff(want, dec); diff != "" {
			t.Errorf("classic round trip (-want +got):\n%s", diff)
		}
	}
	// The auth field of a classic packet covers the same rendering as the
	// inner field of a netstring packet.
	ns, _ := Encode(m, labKey, WithInnerAuth)
	nsMsg, _ := Decode(ns, labRing(t))
	clMsg, _ := Decode(pkt, labRing(t))
	if nsMsg.Value("auth") != clMsg.Value("auth") {
		t.Errorf("netstring inner auth %q != classic auth %q", nsMsg.Value("auth"), clMsg.Value("auth"))
	}
	// Tampering with a value breaks it.
	bad := bytes.Replace(pkt, []byte("st=active"), []byte("st=dead!!"), 1)
	if _, err := Decode(bad, labRing(t)); !errors.Is(err, ErrAuth) {
		t.Errorf("tampered classic packet: %v", err)
	}
}

func TestEncodeRefuses(t *testing.T) {
	cases := map[string]func(m *Message){
		"nul in string":   func(m *Message) { m.Set("info", "a\x00b") },
		"empty name":      func(m *Message) { m.Set("", "x") },
		"name with =":     func(m *Message) { m.Set("a=b", "x") },
		"name with LF":    func(m *Message) { m.Set("a\nb", "x") },
		"name with paren": func(m *Message) { m.Set("(1)x", "x") },
		"struct type":     func(m *Message) { m.Fields = append(m.Fields, Field{Type: 2, Name: "s", Value: []byte("x")}) },
		"too big":         func(m *Message) { m.Set("info", strings.Repeat("x", MaxPacketSize)) },
	}
	for name, mod := range cases {
		m := specStatus()
		mod(m)
		if _, err := Encode(m, labKey, WithInnerAuth); err == nil {
			t.Errorf("%s: Encode accepted", name)
		}
		if _, err := EncodeClassic(m, labKey); err == nil {
			t.Errorf("%s: EncodeClassic accepted", name)
		}
	}
	m := specStatus()
	m.Set("delnodelist", "")
	if _, err := EncodeClassic(m, labKey); err == nil {
		t.Error("classic with empty value accepted")
	}
	if _, err := Encode(m, labKey, WithInnerAuth); err != nil {
		t.Errorf("netstring with empty value: %v", err)
	}
	if _, err := Encode(&Message{}, labKey, WithInnerAuth); err == nil {
		t.Error("empty message accepted")
	}
	if _, err := Encode(specStatus(), Key{Index: 1, Method: MethodSHA1}, WithInnerAuth); err == nil {
		t.Error("sha1 key without secret accepted")
	}
}
