package wire

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// captured is one Heartbeat payload from the reference captures.
type captured struct {
	pcap    string // relative to the vectors directory
	session string // e.g. "E-interop"
	ts      float64
	kind    string // udp or icmp
	payload []byte
	keys    *Keyring
}

var (
	capturesOnce sync.Once
	capturesAll  []captured
	capturesErr  string
)

// loadCaptures reads every Heartbeat payload of every per-link capture
// (testdata/heartbeat-3.0.6/*/link*.pcap.gz), with the keyring that belongs
// to it.
func loadCaptures(t testing.TB) []captured {
	t.Helper()
	dir := vectorsDir(t)
	capturesOnce.Do(func() {
		for _, p := range capturePcaps(t, dir) {
			frames, err := readPcap(p)
			if err != nil {
				capturesErr = err.Error()
				return
			}
			kr := keyringFor(t, p, dir)
			rel, _ := filepath.Rel(dir, p)
			for _, fr := range frames {
				kind, pl := hbPayload(fr.data)
				if pl == nil {
					continue
				}
				capturesAll = append(capturesAll, captured{
					pcap: rel, session: strings.Split(rel, string(filepath.Separator))[0],
					ts:   fr.ts,
					kind: kind, payload: pl, keys: kr,
				})
			}
		}
	})
	if capturesErr != "" {
		t.Fatal(capturesErr)
	}
	return capturesAll
}

// eventWindow returns [start, end) of an event of a session from events.tsv.
func eventWindow(t testing.TB, session, prefix string) (float64, float64) {
	t.Helper()
	f, err := os.Open(filepath.Join(vectorsDir(t), session, "events.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start, end := -1.0, -1.0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ts, label, _ := strings.Cut(sc.Text(), "\t")
		v, err := strconv.ParseFloat(ts, 64)
		if err != nil {
			t.Fatalf("events.tsv: %v", err)
		}
		if start >= 0 && end < 0 {
			end = v
		}
		if strings.HasPrefix(label, prefix) {
			start = v
		}
	}
	if start < 0 || end < 0 {
		t.Fatalf("%s/events.tsv: event %s not found", session, prefix)
	}
	return start, end
}

// TestCapturesAuthenticate decodes every captured packet with its keyring
// and checks the counts published with the captures: 7 392 trailer MACs and
// 5 876 inner auth fields verify, and exactly the 6 E-interop packets signed
// with a wrong key fail, with ErrAuth.
func TestCapturesAuthenticate(t *testing.T) {
	caps := loadCaptures(t)
	badStart, badEnd := eventWindow(t, "E-interop", "06-fake-badkey")
	wrong, err := NewKeyring(Key{Index: 1, Method: MethodSHA1, Secret: []byte("WRONG-PaLabKey-hb306-sha1")})
	if err != nil {
		t.Fatal(err)
	}
	var trailerOK, innerOK, noInner, classicOK, icmp, badKey int
	for i, c := range caps {
		p, err := DecodePacket(c.payload, c.keys)
		if err != nil {
			if !errors.Is(err, ErrAuth) || c.session != "E-interop" || c.ts < badStart || c.ts >= badEnd {
				t.Errorf("%s packet %d (%.6f): %v", c.pcap, i, c.ts, err)
				continue
			}
			badKey++
			var de *DecodeError
			if !errors.As(err, &de) || de.Src != "pa2" || de.Format != FormatClassic {
				t.Errorf("bad-key packet: want classic error naming pa2, got %#v", err)
			}
			if !strings.Contains(err.Error(), "node [pa2]") || !strings.Contains(err.Error(), "failed authentication") {
				t.Errorf("bad-key error text %q lacks Heartbeat's wording", err)
			}
			// The packet is intact: it verifies with the key it was signed with.
			if _, err := Decode(c.payload, wrong); err != nil {
				t.Errorf("bad-key packet does not verify with the wrong key either: %v", err)
			}
			continue
		}
		if !p.Verified || p.KeyIndex != c.keys.Active.Index {
			t.Errorf("%s packet %d: verified=%v index=%d", c.pcap, i, p.Verified, p.KeyIndex)
		}
		if c.kind == "icmp" {
			icmp++
		}
		switch p.Format {
		case FormatNetstring:
			trailerOK++
			inner := WithoutInnerAuth
			if p.HasInnerAuth() {
				inner = WithInnerAuth
				if err := VerifyInnerAuth(p.Msg, c.keys); err != nil {
					t.Errorf("%s packet %d: inner auth: %v", c.pcap, i, err)
				} else {
					innerOK++
				}
			} else {
				noInner++
			}
			k, _ := c.keys.Lookup(p.KeyIndex)
			out, err := Encode(p.Msg, k, inner)
			if err != nil {
				t.Errorf("%s packet %d: re-encode: %v", c.pcap, i, err)
			} else if !bytes.Equal(out, c.payload) {
				t.Errorf("%s packet %d: re-encoding differs:\n got %q\nwant %q", c.pcap, i, out, c.payload)
			}
		case FormatClassic:
			classicOK++
			innerOK++
			k, _ := c.keys.Lookup(p.KeyIndex)
			out, err := EncodeClassic(p.Msg, k)
			if err != nil {
				t.Errorf("%s packet %d: re-encode classic: %v", c.pcap, i, err)
			} else if want := bytes.TrimSuffix(c.payload, []byte{0}); !bytes.Equal(out, want) {
				t.Errorf("%s packet %d: classic re-encoding differs:\n got %q\nwant %q", c.pcap, i, out, want)
			}
		}
	}
	t.Logf("packets=%d trailer_ok=%d inner_ok=%d (classic %d) no_inner=%d icmp=%d bad_key=%d",
		len(caps), trailerOK, innerOK, classicOK, noInner, icmp, badKey)
	if trailerOK != 7392 || innerOK != 5876 || badKey != 6 {
		t.Errorf("trailer_ok=%d inner_ok=%d bad_key=%d, want 7392, 5876, 6 (testdata README)", trailerOK, innerOK, badKey)
	}
	if noInner == 0 || icmp == 0 || classicOK == 0 {
		t.Errorf("expected msgfmt-netstring, ICMP and classic packets in the captures: no_inner=%d icmp=%d classic=%d", noInner, icmp, classicOK)
	}
}

// TestCapturesOtherMethods: the md5 and crc sessions verify only with their
// own keys and carry their own key index.
func TestCapturesOtherMethods(t *testing.T) {
	caps := loadCaptures(t)
	sha1Ring, _ := NewKeyring(Key{Index: 1, Method: MethodSHA1, Secret: []byte("PaLabKey-hb306-sha1")})
	seen := map[Method]int{}
	for _, c := range caps {
		if c.session != "H-authmethods" {
			continue
		}
		m := c.keys.Active.Method
		p, err := DecodePacket(c.payload, c.keys)
		if err != nil {
			t.Fatalf("%s: %v", c.pcap, err)
		}
		if p.KeyIndex != c.keys.Active.Index {
			t.Errorf("%s: key index %d, want %d", c.pcap, p.KeyIndex, c.keys.Active.Index)
		}
		if _, err := Decode(c.payload, sha1Ring); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: decoding with the sha1 keyring: %v, want ErrAuth", c.pcap, err)
		}
		seen[m]++
	}
	if seen[MethodMD5] == 0 || seen[MethodCRC] == 0 {
		t.Fatalf("md5/crc sessions not found: %v", seen)
	}
	t.Logf("verified: %v", seen)
}
