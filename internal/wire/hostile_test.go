package wire

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// signed appends a valid lab-key trailer to a netstring body, so the cases
// below fail on what they are about and not on the MAC.
func signed(body string) []byte {
	d, _ := labKey.newDigester()
	d.put([]byte(body))
	tok := "1 " + string(d.appendHex(nil))
	return []byte(body + strconv.Itoa(len(tok)) + ":" + tok + ",")
}

func TestDecodeHostile(t *testing.T) {
	good := []byte(specDatagram)
	body := specDatagram[:strings.Index(specDatagram, "%%%\n")+4]
	manyFields := "###\n" + strings.Repeat("6:(0)a=b,", MaxFields+1) + "%%%\n"
	classic, err := EncodeClassic(specStatus(), labKey)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"unknown marker", []byte("<<<\nt=x\n"), ErrFormat},
		{"marker only", []byte("###\n"), ErrFormat},
		{"no fields", signed("###\n%%%\n"), ErrFormat},
		{"huge length prefix", []byte("###\n99999999999999999999999:(0)t=x,%%%\n"), ErrFormat},
		{"length beyond packet", signed("###\n999999:(0)t=status,%%%\n"), ErrFormat},
		{"length one too long", signed("###\n12:(0)t=status,%%%\n"), ErrFormat},
		{"negative length", signed("###\n-11:(0)t=status,%%%\n"), ErrFormat},
		{"leading garbage", signed("###\n 11:(0)t=status,%%%\n"), ErrFormat},
		{"leading zero", signed("###\n011:(0)t=status,%%%\n"), ErrFormat},
		{"missing comma", signed("###\n11:(0)t=status;%%%\n"), ErrFormat},
		{"no type prefix", signed("###\n8:t=status,%%%\n"), ErrFormat},
		{"no equals", signed("###\n9:(0)status,%%%\n"), ErrFormat},
		{"empty name", signed("###\n5:(0)=x,%%%\n"), ErrFormat},
		{"unknown type code", signed("###\n11:(7)t=status,%%%\n"), ErrFormat},
		{"struct type", signed("###\n11:(0)t=status,8:(2)s=abc,%%%\n"), ErrUnsupported},
		{"list type", signed("###\n11:(0)t=status,8:(3)l=abc,%%%\n"), ErrUnsupported},
		{"compress type", signed("###\n11:(0)t=status,8:(4)c=abc,%%%\n"), ErrUnsupported},
		{"nul in string", signed("###\n11:(0)t=sta\x00us,%%%\n"), ErrFormat},
		{"name too long", signed("###\n" + strconv.Itoa(3+MaxNameLen+1+2) + ":(0)" + strings.Repeat("n", MaxNameLen+1) + "=x,%%%\n"), ErrFormat},
		{"too many fields", signed(manyFields), ErrTooBig},
		{"missing trailer", []byte(body), ErrAuth},
		{"truncated trailer", good[:len(good)-1], ErrFormat},
		{"trailer bad hex", []byte(body + "42:1 463F1D6A4A9FB7F1265AE1033AF46CEF5F57357F,"), ErrAuth},
		{"trailer not hex", []byte(body + "42:1 463f1d6a4a9fb7f1265ae1033af46cef5f57357g,"), ErrAuth},
		{"trailer no index", []byte(body + "40:463f1d6a4a9fb7f1265ae1033af46cef5f57357f,"), ErrAuth},
		{"trailer index 16", []byte(body + "43:16 463f1d6a4a9fb7f1265ae1033af46cef5f57357f,"), ErrAuth},
		{"trailer unknown index", []byte(body + "42:2 463f1d6a4a9fb7f1265ae1033af46cef5f57357f,"), ErrAuth},
		{"trailer wrong digest", []byte(body + "42:1 463f1d6a4a9fb7f1265ae1033af46cef5f57357e,"), ErrAuth},
		{"trailer too long digest", []byte(body + "68:1 " + strings.Repeat("a", 66) + ","), ErrAuth},
		{"bytes after trailer", append(bytes.Clone(good), 0), ErrFormat},
		{"tampered body", bytes.Replace(good, []byte("st=active"), []byte("st=standb"), 1), ErrAuth},
		{"300 KB packet", append([]byte("###\n"), make([]byte, 300*1024)...), ErrTooBig},
		{"classic no end", []byte(">>>\nt=status\nsrc=pa2\n"), ErrFormat},
		{"classic unterminated line", []byte(">>>\nt=status"), ErrFormat},
		{"classic empty value", []byte(">>>\nt=status\ndelnodelist=\n<<<\n"), ErrFormat},
		{"classic no equals", []byte(">>>\nt=status\nsrc\n<<<\n"), ErrFormat},
		{"classic bad type", []byte(">>>\n(x)t=status\n<<<\n"), ErrFormat},
		{"classic struct", []byte(">>>\n(2)t=status\n<<<\n"), ErrUnsupported},
		{"classic bad base64", []byte(">>>\nt=status\n(1)srcuuid=***\n<<<\n"), ErrFormat},
		{"classic garbage after end", append(bytes.Clone(classic), "xx"...), ErrFormat},
		{"classic two NULs", append(bytes.Clone(classic), 0, 0), ErrFormat},
		{"classic no auth", []byte(">>>\nt=status\nsrc=pa2\n<<<\n"), ErrAuth},
		{"classic bad auth token", []byte(">>>\nt=status\nsrc=pa2\nauth=sha1\n<<<\n"), ErrAuth},
		{"classic tampered", bytes.Replace(classic, []byte("seq=b"), []byte("seq=c"), 1), ErrAuth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.pkt, labRing(t))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError", err)
			}
			if strings.Contains(err.Error(), "\x00") {
				t.Errorf("raw NUL in error text %q", err)
			}
		})
	}
}

// Every proper prefix of a valid packet is refused, never half-accepted.
func TestDecodeTruncations(t *testing.T) {
	r := labRing(t)
	classic, _ := EncodeClassic(specStatus(), labKey)
	for _, full := range [][]byte{[]byte(specDatagram), classic} {
		for n := range len(full) {
			if m, err := Decode(full[:n], r); err == nil {
				t.Fatalf("prefix of %d bytes accepted: %+v", n, m)
			}
		}
	}
}

// Decode copies what it keeps: reusing the receive buffer afterwards must
// not change a decoded message.
func TestDecodeOwnsMemory(t *testing.T) {
	buf := []byte(specDatagram)
	m, err := Decode(buf, labRing(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	if m.Value("src") != "pa2" || m.Value("ld") != "0.01 0.07 0.08 1/115 24780" {
		t.Errorf("message changed with the buffer: %+v", m)
	}
}

func TestDecodeNilKeyring(t *testing.T) {
	if _, err := Decode([]byte(specDatagram), nil); err == nil {
		t.Error("nil keyring accepted")
	}
	p, err := Parse([]byte(specDatagram))
	if err != nil || p.Verified || p.KeyIndex != 1 {
		t.Errorf("Parse: %+v %v", p, err)
	}
}
