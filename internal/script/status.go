package script

// Heartbeat's ResourceManager decides whether a resource is running from the
// TEXT a script prints for "status", never from its exit code (many R1 scripts
// exit 0 either way). The test is a shell case statement over the captured
// stdout:
//
//	case `$spath $arg status` in
//	  *[Nn][Oo][Tt]\ *[Rr]unning*)  stopped ;;
//	  *[Rr]unning*|*OK*)            running ;;
//	  *)                            stopped ;;
//	esac
//
// So "not " (N/O/T in any case, then exactly one blank) followed anywhere later
// by "Running" or "running" means stopped; otherwise "Running", "running" or
// "OK" anywhere means running; anything else, including no output, means
// stopped. The match is over bytes, spans lines, and is case-sensitive except
// where the brackets say otherwise: "RUNNING" alone counts as stopped.
//
// One deliberate deviation, see statusMatcher.mayBe: drbd-utils' drbddisk
// prints "cannot determine status, may be running (<role>)" when it cannot
// tell, and says in its source that this is meant to be read as running so a
// failed stop leads to recovery. Heartbeat's glob reads it as stopped, because
// "cannot " contains "not ". We honour the script's intent: output containing
// "may be running" is running. An unsure answer must never let us start a
// second copy of a resource or hand it to the peer while it may still be up.

// Status reports Heartbeat's verdict on the stdout of a "status" call: true
// means the resource is running. See the package comment in status.go for
// the exact rule.
func Status(output string) bool {
	var m statusMatcher
	m.Write([]byte(output))
	return m.Running()
}

// statusMatcher evaluates the status rule over a stream in constant memory,
// so the verdict stays exact however much a script prints and however the
// output is truncated for logging.
type statusMatcher struct {
	// tail holds the last len(tail) non-NUL bytes seen, oldest first.
	tail [len(mayBeRunning)]byte
	n    int // how many bytes of tail are valid

	seenNot    bool // "[Nn][Oo][Tt] " has occurred
	notRunning bool // "[Rr]unning" occurred after a "not "
	running    bool // "[Rr]unning" occurred
	ok         bool // "OK" occurred
	mayBe      bool // "may be running" occurred (any case)
}

const mayBeRunning = "may be running"

// Write feeds more output. It never fails; the signature lets the matcher be
// used as an io.Writer.
func (m *statusMatcher) Write(p []byte) (int, error) {
	for _, c := range p {
		// Shell command substitution drops NUL bytes, so they cannot
		// separate the words Heartbeat looks for.
		if c == 0 {
			continue
		}
		m.push(c)
		switch c {
		case ' ':
			if m.endsWithFold("not ") {
				m.seenNot = true
			}
		case 'g', 'G':
			if m.endsWith("unning") && (m.at(7) == 'R' || m.at(7) == 'r') {
				m.running = true
				// A "not " seen before can only have ended before this
				// word began: its blank cannot lie inside "running".
				if m.seenNot {
					m.notRunning = true
				}
			}
			if m.endsWithFold(mayBeRunning) {
				m.mayBe = true
			}
		case 'K':
			if m.at(2) == 'O' {
				m.ok = true
			}
		}
	}
	return len(p), nil
}

// Running is the verdict for everything written so far.
func (m *statusMatcher) Running() bool {
	switch {
	case m.mayBe:
		return true
	case m.notRunning:
		return false
	default:
		return m.running || m.ok
	}
}

func (m *statusMatcher) push(c byte) {
	if m.n < len(m.tail) {
		m.tail[m.n] = c
		m.n++
		return
	}
	copy(m.tail[:], m.tail[1:])
	m.tail[len(m.tail)-1] = c
}

// at returns the byte k positions from the end (1 = the last byte), or 0.
func (m *statusMatcher) at(k int) byte {
	if k > m.n {
		return 0
	}
	return m.tail[m.n-k]
}

func (m *statusMatcher) endsWith(s string) bool {
	if len(s) > m.n {
		return false
	}
	return string(m.tail[m.n-len(s):m.n]) == s
}

func (m *statusMatcher) endsWithFold(s string) bool {
	if len(s) > m.n {
		return false
	}
	got := m.tail[m.n-len(s) : m.n]
	for i := 0; i < len(s); i++ {
		if lowerASCII(got[i]) != s[i] {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
