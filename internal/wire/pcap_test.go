package wire

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// vectorsDir is the directory of the Heartbeat 3.0.6 captures, relative to
// the package directory (the working directory of its tests). The vectors
// are part of the repository, so a missing directory fails the test instead
// of skipping it.
func vectorsDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join("testdata", "heartbeat-3.0.6")
	if _, err := os.Stat(filepath.Join(d, "README.md")); err != nil {
		t.Fatalf("test vectors not found: %v", err)
	}
	return d
}

// pcapSuffix ends the name of every capture file (gzip-compressed pcap).
const pcapSuffix = ".pcap.gz"

// frame is one captured Ethernet frame.
type frame struct {
	ts   float64 // seconds since the epoch
	data []byte
}

// readPcap reads a gzip-compressed classic libpcap file (either byte order,
// µs or ns timestamps) with Ethernet link type.
func readPcap(path string) ([]frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(b) < 24 {
		return nil, fmt.Errorf("%s: short pcap header", path)
	}
	var bo binary.ByteOrder
	fracUnit := 1e6
	switch m := binary.LittleEndian.Uint32(b); m {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, fracUnit = binary.LittleEndian, 1e9
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	case 0x4d3cb2a1:
		bo, fracUnit = binary.BigEndian, 1e9
	default:
		return nil, fmt.Errorf("%s: not a classic pcap file (magic %#x)", path, m)
	}
	if lt := bo.Uint32(b[20:]); lt != 1 {
		return nil, fmt.Errorf("%s: link type %d, want Ethernet (1)", path, lt)
	}
	var out []frame
	for p := 24; p < len(b); {
		if len(b)-p < 16 {
			return nil, fmt.Errorf("%s: truncated record header at %d", path, p)
		}
		incl := int(bo.Uint32(b[p+8:]))
		if incl > len(b)-p-16 {
			return nil, fmt.Errorf("%s: truncated record at %d", path, p)
		}
		ts := float64(bo.Uint32(b[p:])) + float64(bo.Uint32(b[p+4:]))/fracUnit
		out = append(out, frame{ts: ts, data: b[p+16 : p+16+incl]})
		p += 16 + incl
	}
	return out, nil
}

// hbPayload returns the Heartbeat payload of a frame, selected exactly as
// verify_auth.py selects it: IPv4 UDP from or to port 694, or an ICMP echo
// (request or reply) whose payload starts with a Heartbeat marker (the
// ping medium). Everything else (ARP, other ICMP) yields nil.
func hbPayload(fr []byte) (kind string, payload []byte) {
	if len(fr) < 34 || fr[12] != 0x08 || fr[13] != 0x00 {
		return "", nil
	}
	ihl := int(fr[14]&15) * 4
	l4 := 14 + ihl
	switch fr[23] {
	case 17:
		if len(fr) < l4+8 {
			return "", nil
		}
		sp, dp := binary.BigEndian.Uint16(fr[l4:]), binary.BigEndian.Uint16(fr[l4+2:])
		ln := int(binary.BigEndian.Uint16(fr[l4+4:]))
		if sp != 694 && dp != 694 {
			return "", nil
		}
		if ln < 8 || l4+ln > len(fr) {
			return "", nil
		}
		return "udp", fr[l4+8 : l4+ln]
	case 1:
		if len(fr) < l4+8 || (fr[l4] != 0 && fr[l4] != 8) {
			return "", nil
		}
		pl := fr[l4+8:]
		if strings.HasPrefix(string(pl), netstringStart) || strings.HasPrefix(string(pl), classicStart) {
			return "icmp", pl
		}
	}
	return "", nil
}

// capturePcaps lists the link*.pcap.gz files of every session: the raw
// per-link captures, the set verify_auth.py checks.
func capturePcaps(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), "link") && strings.HasSuffix(d.Name(), pcapSuffix) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no link*%s under %s", pcapSuffix, dir)
	}
	return out
}

// keyringFor reads the authkeys file that belongs to a capture:
// "authkeys.<sfx>" beside "...-<sfx>.pcap.gz", else "authkeys" in the
// capture's directory or a parent up to the vectors directory. The parser
// is deliberately minimal (the real one lives in internal/config).
func keyringFor(t testing.TB, pcap, top string) *Keyring {
	t.Helper()
	dir, base := filepath.Dir(pcap), filepath.Base(pcap)
	var path string
	if i := strings.LastIndexByte(base, '-'); i >= 0 {
		cand := filepath.Join(dir, "authkeys."+strings.TrimSuffix(base[i+1:], pcapSuffix))
		if _, err := os.Stat(cand); err == nil {
			path = cand
		}
	}
	for d := dir; path == ""; d = filepath.Dir(d) {
		cand := filepath.Join(d, "authkeys")
		if _, err := os.Stat(cand); err == nil {
			path = cand
			break
		}
		if d == top || filepath.Dir(d) == d {
			t.Fatalf("no authkeys for %s", pcap)
		}
	}
	return parseTestAuthkeys(t, path)
}

func parseTestAuthkeys(t testing.TB, path string) *Keyring {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	active := -1
	var keys []Key
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) == 0 || strings.HasPrefix(w[0], "#") {
			continue
		}
		if w[0] == "auth" {
			fmt.Sscanf(w[1], "%d", &active)
			continue
		}
		var k Key
		fmt.Sscanf(w[0], "%d", &k.Index)
		k.Method = Method(w[1])
		if len(w) > 2 {
			k.Secret = []byte(w[2])
		}
		keys = append(keys, k)
	}
	for i, k := range keys {
		if k.Index == active {
			r, err := NewKeyring(k, append(keys[:i:i], keys[i+1:]...)...)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return r
		}
	}
	t.Fatalf("%s: active key %d not defined", path, active)
	return nil
}
