package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// PeersFile holds the last generation and sequence number heartbeatd saw
// from each peer, so that packets recorded before our own restart cannot
// be replayed to us afterwards (membership.Config.PeerRecords, issue 12).
// Heartbeat has no such file: it forgets every peer's sequence state when
// it restarts. One line per peer, decimal, sorted by name:
//
//	# heartbeatd peer records: node generation seq
//	pa2 1795311648 20
//
// To make heartbeatd forget a peer (one whose generation went backwards,
// e.g. after its hb_generation was lost and its clock set back, and which
// is therefore refused as a replay), stop heartbeatd, delete the peer's
// line or the file, and start it again: a running heartbeatd writes the
// file back when it stops.
const PeersFile = "hb_peers"

// PeerRecord is a peer's generation and the highest seq seen from it in
// that generation.
type PeerRecord struct {
	Gen, Seq uint64
}

// Limits of what LoadPeers reads: Heartbeat's MAXNODE nodes, HOSTLENG-1
// byte names, and a file no larger than that takes.
const (
	maxPeers     = 100
	maxNodeName  = 99
	maxPeersFile = 64 << 10
)

const peersHeader = "# heartbeatd peer records: node generation seq\n"

// LoadPeers reads dir/hb_peers. It never fails: a missing file gives no
// records; an unreadable or oversized one, and every line that is not
// exactly "name generation seq" with a valid lower-case node name and
// decimal numbers (generation above 0), are left out with a note for the
// log. Two lines for one node keep the higher (generation, seq): the
// record is a floor, and a floor set too low only lets in what Heartbeat
// itself would let in.
func LoadPeers(dir string) (map[string]PeerRecord, []string) {
	path := filepath.Join(dir, PeersFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]PeerRecord{}, nil
	}
	if err != nil {
		return map[string]PeerRecord{}, []string{fmt.Sprintf("cannot read %s (%v): no peer records, replays from before this start are not detected", path, err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPeersFile+1))
	if err != nil {
		return map[string]PeerRecord{}, []string{fmt.Sprintf("cannot read %s (%v): no peer records, replays from before this start are not detected", path, err)}
	}
	if len(data) > maxPeersFile {
		return map[string]PeerRecord{}, []string{fmt.Sprintf("%s is larger than %d bytes: ignored, no peer records", path, maxPeersFile)}
	}
	recs, notes := parsePeers(data)
	for i, n := range notes {
		notes[i] = path + ":" + n
	}
	return recs, notes
}

// parsePeers is LoadPeers' parser, for any bytes at all.
func parsePeers(data []byte) (map[string]PeerRecord, []string) {
	recs := map[string]PeerRecord{}
	var notes []string
	for i, line := range bytes.Split(data, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		name, r, err := parsePeerLine(s)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%d: %v: line ignored", i+1, err))
			continue
		}
		if old, ok := recs[name]; ok {
			notes = append(notes, fmt.Sprintf("%d: second record for %s: the higher one is kept", i+1, name))
			if !old.less(r) {
				continue
			}
		} else if len(recs) >= maxPeers {
			notes = append(notes, fmt.Sprintf("%d: more than %d peers: line ignored", i+1, maxPeers))
			continue
		}
		recs[name] = r
	}
	return recs, notes
}

func parsePeerLine(s string) (string, PeerRecord, error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return "", PeerRecord{}, fmt.Errorf("%d fields, want 3 (node generation seq)", len(f))
	}
	if err := checkNodeName(f[0]); err != nil {
		return "", PeerRecord{}, err
	}
	gen, err1 := parseDecimal(f[1])
	seq, err2 := parseDecimal(f[2])
	if err1 != nil || err2 != nil || gen == 0 {
		return "", PeerRecord{}, fmt.Errorf("generation %q and seq %q must be decimal numbers, the generation above 0", truncate(f[1]), truncate(f[2]))
	}
	return f[0], PeerRecord{Gen: gen, Seq: seq}, nil
}

// parseDecimal takes digits only: no sign, no base prefix, no blank.
func parseDecimal(s string) (uint64, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not decimal")
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// checkNodeName accepts what ha.cf node names are once lower-cased:
// printable ASCII without blanks or upper case, shorter than HOSTLENG.
func checkNodeName(name string) error {
	if name == "" || len(name) > maxNodeName {
		return fmt.Errorf("node name of %d bytes", len(name))
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || (c >= 'A' && c <= 'Z') {
			return fmt.Errorf("node name %q is not lower-case printable ASCII", truncate(name))
		}
	}
	return nil
}

func (r PeerRecord) less(o PeerRecord) bool {
	return r.Gen < o.Gen || (r.Gen == o.Gen && r.Seq < o.Seq)
}

// SavePeers replaces dir/hb_peers with recs, atomically and synced (a
// crash leaves the old file or the new one). The shell calls it for every
// membership.PersistPeer (with all records it holds, the new one merged
// in) and once more at a clean stop with membership's Records.
func SavePeers(dir string, recs map[string]PeerRecord) error {
	data, err := formatPeers(recs)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, PeersFile), data, "peer records")
}

// formatPeers is the file SavePeers writes; it refuses what LoadPeers
// would not read back.
func formatPeers(recs map[string]PeerRecord) ([]byte, error) {
	names := make([]string, 0, len(recs))
	for name, r := range recs {
		if err := checkNodeName(name); err != nil {
			return nil, fmt.Errorf("peer records: %w", err)
		}
		if r.Gen == 0 {
			return nil, fmt.Errorf("peer records: %s: generation 0", name)
		}
		names = append(names, name)
	}
	if len(names) > maxPeers {
		return nil, fmt.Errorf("peer records: %d peers, at most %d", len(names), maxPeers)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(peersHeader)
	for _, name := range names {
		fmt.Fprintf(&b, "%s %d %d\n", name, recs[name].Gen, recs[name].Seq)
	}
	return []byte(b.String()), nil
}

// Peers holds the peer records of a state dir in memory and writes the
// whole file back on every change: the daemon's side of PersistPeer.
type Peers struct {
	dir  string
	recs map[string]PeerRecord
	// live is hb_peers held open for the periodic records, written in
	// place (see Put); nil until the first one, and again after every
	// durable write, which replaces the file.
	live *os.File
	size int // bytes last written through live
}

// OpenPeers loads dir's records (see LoadPeers for the notes).
func OpenPeers(dir string) (*Peers, []string) {
	recs, notes := LoadPeers(dir)
	return &Peers{dir: dir, recs: recs}, notes
}

// Records are the records as loaded or last put. The map is a copy.
func (p *Peers) Records() map[string]PeerRecord {
	out := make(map[string]PeerRecord, len(p.recs))
	for k, v := range p.recs {
		out[k] = v
	}
	return out
}

// Put records a peer's generation and seq and saves the file; durable
// syncs it to disk (a peer's death, shutdone or new generation), otherwise
// it only survives a crash of the process (a live peer's periodic record).
//
// A periodic record comes every second for as long as a peer lives, so it
// costs one pwrite into the open file, not a new file and a rename (about
// ten system calls, the blocking ones each waking the Go runtime's monitor
// thread: at a 2 s keepalive they doubled the idle daemon's CPU). One pwrite of a
// page-cache file is never seen half done by a process; a record that
// came out shorter is padded with newlines, which LoadPeers skips, so no
// tail of the old content survives. A durable record still goes through
// a synced new file and a rename.
func (p *Peers) Put(node string, gen, seq uint64, durable bool) error {
	p.recs[node] = PeerRecord{Gen: gen, Seq: seq}
	data, err := formatPeers(p.recs)
	if err != nil {
		return err
	}
	path := filepath.Join(p.dir, PeersFile)
	if !durable {
		if err := p.writeLive(path, data); err == nil {
			return nil
		}
		// The file went away or cannot be written in place: write it
		// anew below, and reopen it at the next periodic record.
	}
	p.closeLive()
	return writeFile(path, data, "peer records", durable)
}

func (p *Peers) writeLive(path string, data []byte) error {
	if p.live == nil {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		p.live, p.size = f, int(st.Size())
	}
	if pad := p.size - len(data); pad > 0 {
		data = append(data, bytes.Repeat([]byte("\n"), pad)...)
	}
	if _, err := p.live.WriteAt(data, 0); err != nil {
		p.closeLive()
		return err
	}
	p.size = len(data)
	return nil
}

func (p *Peers) closeLive() {
	if p.live != nil {
		p.live.Close()
		p.live = nil
	}
}

// Close releases the file held open for periodic records.
func (p *Peers) Close() { p.closeLive() }
