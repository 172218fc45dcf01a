package state

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestPeersRoundTrip(t *testing.T) {
	dir := t.TempDir()
	recs := map[string]PeerRecord{"pa2": {Gen: 1795311648, Seq: 20}, "pa3": {Gen: 7, Seq: 0}}
	if err := SavePeers(dir, recs); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, PeersFile))
	want := peersHeader + "pa2 1795311648 20\npa3 7 0\n"
	if string(b) != want {
		t.Fatalf("file:\n%s\nwant:\n%s", b, want)
	}
	got, notes := LoadPeers(dir)
	if !reflect.DeepEqual(got, recs) || notes != nil {
		t.Fatalf("loaded %v %v, want %v", got, notes, recs)
	}
	if _, err := os.Stat(filepath.Join(dir, PeersFile+".tmp")); err == nil {
		t.Fatal("temporary file left behind")
	}
	// Saving again replaces the file, it does not append.
	if err := SavePeers(dir, map[string]PeerRecord{"pa2": {Gen: 1795311649, Seq: 1}}); err != nil {
		t.Fatal(err)
	}
	got, _ = LoadPeers(dir)
	if len(got) != 1 || got["pa2"] != (PeerRecord{1795311649, 1}) {
		t.Fatalf("after second save: %v", got)
	}
}

func TestPeersMissingFileIsNoRecords(t *testing.T) {
	got, notes := LoadPeers(t.TempDir())
	if len(got) != 0 || notes != nil {
		t.Fatalf("%v %v", got, notes)
	}
}

// Every line that is not exactly right is left out, with a note naming the
// line; the good ones are kept.
func TestPeersParserTrustsNothing(t *testing.T) {
	dir := t.TempDir()
	content := strings.Join([]string{
		"# comment",
		"",
		"pa2 1795311648 20",
		"pa3 10 5 extra",             // 4 fields
		"pa4 -1 5",                   // sign
		"pa5 0x10 5",                 // hex
		"pa6 0 5",                    // generation 0
		"pa7 18446744073709551616 1", // overflow
		"PA8 10 5",                   // upper case
		"pa\x009 10 5",               // control byte
		strings.Repeat("n", 100) + " 10 5",
		"pa10 +3 4",
		"\xff\xfe 1 1",
		"pa2 1795311647 99", // duplicate, lower generation: the higher stays
		"pa11 5 6",
		"pa11 5 7", // duplicate, higher seq: kept
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, PeersFile), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got, notes := LoadPeers(dir)
	want := map[string]PeerRecord{"pa2": {1795311648, 20}, "pa11": {5, 7}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %v, want %v", got, want)
	}
	if len(notes) != 12 {
		t.Fatalf("%d notes:\n%s", len(notes), strings.Join(notes, "\n"))
	}
	for _, n := range notes {
		if !strings.HasPrefix(n, filepath.Join(dir, PeersFile)+":") {
			t.Fatalf("note %q does not name the file and line", n)
		}
	}
}

func TestPeersOversizedFileIgnored(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("pa2 1 1\n", maxPeersFile/8+1)
	os.WriteFile(filepath.Join(dir, PeersFile), []byte(big), 0o644)
	got, notes := LoadPeers(dir)
	if len(got) != 0 || len(notes) != 1 || !strings.Contains(notes[0], "larger than") {
		t.Fatalf("%v %v", got, notes)
	}
}

func TestPeersTooManyNodes(t *testing.T) {
	var b strings.Builder
	for i := 0; i < maxPeers+5; i++ {
		fmt.Fprintf(&b, "n%d 1 1\n", i)
	}
	got, notes := parsePeers([]byte(b.String()))
	if len(got) != maxPeers || len(notes) != 5 {
		t.Fatalf("%d records, %d notes", len(got), len(notes))
	}
}

func TestSavePeersRefusesWhatLoadWouldNotRead(t *testing.T) {
	dir := t.TempDir()
	for _, recs := range []map[string]PeerRecord{
		{"PA2": {1, 1}},
		{"pa 2": {1, 1}},
		{"pa2": {0, 1}},
	} {
		if err := SavePeers(dir, recs); err == nil {
			t.Fatalf("saved %v", recs)
		}
	}
}

// FuzzParsePeers: any bytes; never a panic, never more than maxPeers
// records, and what comes out is written and read back unchanged.
func FuzzParsePeers(f *testing.F) {
	f.Add([]byte(peersHeader + "pa2 1795311648 20\npa3 7 0\n"))
	f.Add([]byte("pa2 1 1\npa2 1 2\n\x00\n#\n  pa4   5   6  \r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _ := parsePeers(data)
		if len(recs) > maxPeers {
			t.Fatalf("%d records", len(recs))
		}
		out, err := formatPeers(recs)
		if err != nil {
			t.Fatalf("parsed records do not format: %v", err)
		}
		back, notes := parsePeers(out)
		if !reflect.DeepEqual(back, recs) || notes != nil {
			t.Fatalf("round trip %v -> %v %v", recs, back, notes)
		}
	})
}

func TestPeersPutSavesAndReloads(t *testing.T) {
	dir := t.TempDir()
	p, notes := OpenPeers(dir)
	if len(notes) != 0 || len(p.Records()) != 0 {
		t.Fatalf("fresh dir: %v %v", p.Records(), notes)
	}
	if err := p.Put("pa2", 7, 42, true); err != nil {
		t.Fatal(err)
	}
	if err := p.Put("pa2", 8, 3, false); err != nil {
		t.Fatal(err)
	}
	q, _ := OpenPeers(dir)
	if got := q.Records()["pa2"]; got != (PeerRecord{Gen: 8, Seq: 3}) {
		t.Errorf("reloaded %+v", got)
	}
	if err := p.Put("Bad Name", 1, 1, true); err == nil {
		t.Error("a name LoadPeers would refuse was saved")
	}
}

// TestPeersPeriodicInPlace: periodic records are written into the open
// file (same inode, no temporary file), read back exactly after every
// kind of change, including one that makes the file shorter; a durable
// record replaces the file, and the next periodic one follows the new
// file, not the replaced one.
func TestPeersPeriodicInPlace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, PeersFile)
	p, _ := OpenPeers(dir)
	defer p.Close()
	check := func(want map[string]PeerRecord) {
		t.Helper()
		got, notes := LoadPeers(dir)
		if !reflect.DeepEqual(got, want) || notes != nil {
			t.Fatalf("loaded %v %v, want %v", got, notes, want)
		}
		if _, err := os.Stat(path + ".tmp"); err == nil {
			t.Fatal("temporary file left behind")
		}
	}
	inode := func() uint64 {
		t.Helper()
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Sys().(*syscall.Stat_t).Ino
	}
	put := func(node string, gen, seq uint64, durable bool) {
		t.Helper()
		if err := p.Put(node, gen, seq, durable); err != nil {
			t.Fatal(err)
		}
	}
	// No file yet: the first periodic record creates it.
	put("pa2", 5, 10, false)
	check(map[string]PeerRecord{"pa2": {5, 10}})
	first := inode()
	for seq := uint64(11); seq < 2000; seq += 97 {
		put("pa2", 5, seq, false)
		check(map[string]PeerRecord{"pa2": {5, seq}})
	}
	put("pb", 123456789, 99999, false)
	check(map[string]PeerRecord{"pa2": {5, 1951}, "pb": {123456789, 99999}})
	if inode() != first {
		t.Fatal("a periodic record replaced the file: want it written in place")
	}
	// Shorter than what is on disk: the tail must not survive.
	put("pb", 7, 1, false)
	check(map[string]PeerRecord{"pa2": {5, 1951}, "pb": {7, 1}})
	// Durable: a new file; the periodic one after it writes that file.
	put("pa2", 6, 0, true)
	if inode() == first {
		t.Fatal("a durable record was written in place: want a synced new file")
	}
	put("pa2", 6, 40, false)
	check(map[string]PeerRecord{"pa2": {6, 40}, "pb": {7, 1}})
	// The file removed while the daemon runs (PeersFile says to stop it
	// first): periodic records go to the removed file, and the next
	// durable one (a death, a shutdone, the clean stop) writes the file
	// again, with every record.
	os.Remove(path)
	put("pa2", 6, 41, false)
	if _, err := os.Stat(path); err == nil {
		t.Fatal("want no file until the next durable record")
	}
	put("pb", 7, 2, true)
	check(map[string]PeerRecord{"pa2": {6, 41}, "pb": {7, 2}})
	put("pa2", 6, 42, false)
	check(map[string]PeerRecord{"pa2": {6, 42}, "pb": {7, 2}})
}
