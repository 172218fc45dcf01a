package script

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// OutputLimits bound what is kept of a script's output. A script that loops
// printing (a broken init script, "yes" by mistake) must not be able to grow
// the daemon without limit, and must not flood syslog either.
type OutputLimits struct {
	// MaxLineBytes is the longest line kept, in bytes of raw output; the rest
	// of a longer line is dropped and the line is marked truncated.
	// Default 4096.
	MaxLineBytes int
	// HeadLines and TailLines: the first HeadLines lines and the last
	// TailLines lines are kept (and logged); the lines in between are only
	// counted. Errors tend to be at the end, so both ends are worth keeping.
	// Defaults 200 and 100.
	HeadLines int
	TailLines int
}

const (
	defaultMaxLineBytes = 4096
	defaultHeadLines    = 200
	defaultTailLines    = 100
	truncatedMark       = " [line truncated]"
)

func (l OutputLimits) withDefaults() OutputLimits {
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = defaultMaxLineBytes
	}
	if l.HeadLines <= 0 {
		l.HeadLines = defaultHeadLines
	}
	if l.TailLines < 0 {
		l.TailLines = 0
	} else if l.TailLines == 0 {
		l.TailLines = defaultTailLines
	}
	return l
}

// outputLog collects the lines of stdout and stderr of one run, in arrival
// order, within OutputLimits. Head lines are logged as they arrive so a slow
// start shows progress; tail lines are logged when the run ends.
type outputLog struct {
	mu       sync.Mutex
	limits   OutputLimits
	emit     func(line string)
	head     []string
	tail     []string // ring of the most recent lines after head filled up
	tailNext int
	omitted  int
}

func newOutputLog(limits OutputLimits, emit func(string)) *outputLog {
	return &outputLog{limits: limits.withDefaults(), emit: emit}
}

func (o *outputLog) add(line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.head) < o.limits.HeadLines {
		o.head = append(o.head, line)
		o.emit(line)
		return
	}
	if o.limits.TailLines == 0 {
		o.omitted++
		return
	}
	if len(o.tail) < o.limits.TailLines {
		o.tail = append(o.tail, line)
		return
	}
	o.tail[o.tailNext] = line
	o.tailNext = (o.tailNext + 1) % len(o.tail)
	o.omitted++
}

// snapshot returns the lines kept so far and the number left out,
// logging nothing.
func (o *outputLog) snapshot() ([]string, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := append([]string(nil), o.head...)
	return append(lines, o.tail...), o.omitted
}

// finish logs what was held back and returns the kept lines, with a marker
// line where lines were left out, plus the number left out.
func (o *outputLog) finish() ([]string, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := append([]string(nil), o.head...)
	if o.omitted > 0 {
		mark := fmt.Sprintf("[... %d output lines omitted ...]", o.omitted)
		lines = append(lines, mark)
		o.emit(mark)
	}
	for i := range o.tail {
		l := o.tail[(o.tailNext+i)%len(o.tail)]
		lines = append(lines, l)
		o.emit(l)
	}
	return lines, o.omitted
}

// lineSplitter cuts one stream into lines of at most max bytes, handing each
// finished line to out. It holds at most max bytes, whatever the input.
type lineSplitter struct {
	max       int
	buf       []byte
	truncated bool // the current line exceeded max; bytes are being dropped
	out       func(string)
}

func (s *lineSplitter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := indexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := s.max - len(s.buf); room > 0 {
			if len(chunk) > room {
				s.buf = append(s.buf, chunk[:room]...)
				s.truncated = true
			} else {
				s.buf = append(s.buf, chunk...)
			}
		} else if len(chunk) > 0 {
			s.truncated = true
		}
		if i < 0 {
			break
		}
		s.flush()
		p = p[i+1:]
	}
	return n, nil
}

// close hands over a last line that had no trailing newline.
func (s *lineSplitter) close() {
	if len(s.buf) > 0 || s.truncated {
		s.flush()
	}
}

func (s *lineSplitter) flush() {
	line := sanitize(strings.TrimSuffix(string(s.buf), "\r"))
	if s.truncated {
		line += truncatedMark
	}
	s.buf = s.buf[:0]
	s.truncated = false
	s.out(line)
}

func indexByte(p []byte, c byte) int {
	for i, b := range p {
		if b == c {
			return i
		}
	}
	return -1
}

// sanitize makes script output safe to pass to syslog and log files: invalid
// UTF-8, NULs and other control characters (except tab) become \xNN, so a
// line can neither be cut short by a NUL nor forge extra log lines.
func sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case r < 0x20 && r != '\t', r == 0x7f, r >= 0x80 && r < 0xa0:
			for i := 0; i < size; i++ {
				fmt.Fprintf(&b, `\x%02x`, s[i])
			}
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

// capture collects one run's output from its stdout and stderr pipes: the
// lines for the log and Result.Output, and the status verdict over stdout.
type capture struct {
	readers sync.WaitGroup // the two pipe readers

	mu             sync.Mutex // guards the fields below
	detached       bool       // finished: later output is read and dropped
	status         statusMatcher
	stdout, stderr *lineSplitter
	logs           *outputLog
}

func newCapture(limits OutputLimits, emit func(string)) *capture {
	logs := newOutputLog(limits, emit)
	return &capture{
		logs:   logs,
		stdout: &lineSplitter{max: logs.limits.MaxLineBytes, out: logs.add},
		stderr: &lineSplitter{max: logs.limits.MaxLineBytes, out: logs.add},
	}
}

// read starts a reader on each pipe; each closes its pipe at EOF.
func (c *capture) read(stdout, stderr *os.File) {
	c.readers.Add(2)
	go c.pump(stdout, func(p []byte) { c.status.Write(p); c.stdout.Write(p) })
	go c.pump(stderr, func(p []byte) { c.stderr.Write(p) })
}

func (c *capture) pump(f *os.File, sink func([]byte)) {
	defer c.readers.Done()
	defer f.Close()
	buf := make([]byte, readChunk)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			c.mu.Lock()
			if !c.detached {
				sink(buf[:n])
			}
			c.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// settle completes out with the output so far, for an op that ended while
// its process goes on (agent.IO.Settle): later lines are still logged as
// they come, and finish, at the process's end, logs any held back.
func (c *capture) settle(out *Result) {
	c.mu.Lock()
	out.Running = c.status.Running()
	c.mu.Unlock()
	out.Output, out.OmittedLines = c.logs.snapshot()
}

// finish detaches the sinks from the readers (who may still be draining a
// pipe that something the script started holds open) and completes out.
func (c *capture) finish(out *Result) {
	c.mu.Lock()
	c.detached = true
	c.stdout.close()
	c.stderr.close()
	out.Running = c.status.Running()
	c.mu.Unlock()
	out.Output, out.OmittedLines = c.logs.finish()
}
