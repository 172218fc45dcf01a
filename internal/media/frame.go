package media

import "bytes"

// Classic-format frame markers (spec §1.2): a serial line carries messages
// as text from a ">>>" line to a "<<<" line, with nothing in between frames
// but whatever noise the line picked up.
var (
	frameStart = []byte(">>>\n")
	frameEnd   = []byte("<<<\n")
)

// classicSplitter cuts a byte stream into classic frames. It is a pure state
// machine (no I/O) so the fuzz test can feed it anything.
//
// Rules, chosen for a noisy line that may be plugged in mid-message:
//   - bytes before a ">>>\n" are noise and dropped;
//   - a frame ends at the first "<<<\n" that starts a line;
//   - a ">>>\n" line inside an unfinished frame means the sender started
//     over (or we joined mid-message): the partial frame is dropped and the
//     new one collected;
//   - a frame longer than max without its end is dropped, and the search for
//     a start resumes after it.
type classicSplitter struct {
	max     int
	buf     []byte
	atLine  bool // buf[0] begins a line (the previous byte was '\n')
	dropped int  // bytes discarded as noise or broken frames, for counters
}

// newClassicSplitter starts at a line start: the first bytes read after
// opening the tty count as the beginning of a line.
func newClassicSplitter(max int) *classicSplitter {
	return &classicSplitter{max: max, atLine: true}
}

// feed adds p and returns the complete frames it finished, each starting
// with ">>>\n" and ending with "<<<\n". Returned slices are owned by the
// caller.
func (s *classicSplitter) feed(p []byte) [][]byte {
	s.buf = append(s.buf, p...)
	var out [][]byte
	for {
		start := s.find(frameStart, 0)
		if start < 0 {
			s.discardKeepingTail()
			break
		}
		s.discard(start)
		body := len(frameStart)
		end := s.find(frameEnd, body)
		restart := s.find(frameStart, body)
		if restart >= 0 && (end < 0 || restart < end) {
			s.discard(restart)
			continue
		}
		if end < 0 {
			if len(s.buf) > s.max {
				s.discardKeepingTail()
			}
			break
		}
		n := end + len(frameEnd)
		if n > s.max {
			s.discard(n)
			continue
		}
		out = append(out, append([]byte(nil), s.buf[:n]...))
		s.buf = s.buf[n:]
		s.atLine = true
	}
	// Do not let the backing array grow without bound on a busy line.
	if cap(s.buf) > 4*s.max && len(s.buf) < s.max {
		s.buf = append([]byte(nil), s.buf...)
	}
	return out
}

// discardKeepingTail drops the buffer but for a possible partial start
// marker at its end (atLine remembers whether it began a line).
func (s *classicSplitter) discardKeepingTail() {
	keep := len(frameStart) - 1
	if keep > len(s.buf) {
		keep = len(s.buf)
	}
	s.discard(len(s.buf) - keep)
}

func (s *classicSplitter) discard(n int) {
	if n == 0 {
		return
	}
	s.atLine = s.buf[n-1] == '\n'
	s.dropped += n
	s.buf = s.buf[n:]
}

// find returns the index of the first occurrence of marker at or after from
// that begins a line.
func (s *classicSplitter) find(marker []byte, from int) int {
	b := s.buf
	for i := from; i <= len(b)-len(marker); {
		j := bytes.Index(b[i:], marker)
		if j < 0 {
			return -1
		}
		at := i + j
		if (at == 0 && s.atLine) || (at > 0 && b[at-1] == '\n') {
			return at
		}
		i = at + 1
	}
	return -1
}
