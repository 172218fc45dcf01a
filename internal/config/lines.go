package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"heartbeatd/internal/diag"
)

// maxLineLen bounds one configuration line. Heartbeat reads lines with
// fgets(MAXLINE) and silently treats the rest of a longer line as a new line;
// we refuse such a line instead, and never hold more than this in memory for
// it, so a 1 GB line of junk cannot exhaust memory.
const maxLineLen = 64 * 1024

// maxMessageValue bounds how much of an untrusted value we echo in a finding.
const maxMessageValue = 64

// sourceLine is one physical line of a configuration file, already checked
// to be text.
type sourceLine struct {
	num  int
	text string
}

// readLines splits r into lines. Lines that are not text (NUL bytes, control
// characters, invalid UTF-8) or are too long get an error finding each and are
// left out; the caller parses the rest so that one bad line does not hide the
// findings of the others. CRLF endings are accepted (Heartbeat cuts lines at
// the first CR as well), with one warning per file because a file edited on
// Windows often has other surprises.
func readLines(r io.Reader, file string, diags *diag.List) []sourceLine {
	br := bufio.NewReader(r)
	var out []sourceLine
	warnedCR := false
	for num := 1; ; num++ {
		raw, tooLong, err := readBoundedLine(br)
		if len(raw) == 0 && !tooLong && err != nil {
			if !errors.Is(err, io.EOF) {
				diags.Errorf(file, num, "read error: %v", err)
			}
			return out
		}
		switch {
		case tooLong:
			diags.Errorf(file, num, "line is longer than %d bytes", maxLineLen)
		default:
			if bytes.HasSuffix(raw, []byte("\r")) {
				raw = raw[:len(raw)-1]
				if !warnedCR {
					diags.Warnf(file, num, "line ends with CR (DOS line endings); the CR is ignored")
					warnedCR = true
				}
			}
			if msg := binaryProblem(raw); msg != "" {
				diags.Errorf(file, num, "%s", msg)
			} else {
				out = append(out, sourceLine{num: num, text: string(raw)})
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				diags.Errorf(file, num, "read error: %v", err)
			}
			return out
		}
	}
}

// readBoundedLine returns the next line without its '\n'. When the line is
// longer than maxLineLen the rest is read and dropped and tooLong is set.
func readBoundedLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > maxLineLen+1 { // +1: the '\n' itself
				tooLong = true
				line = line[:0]
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		if tooLong && line == nil {
			line = []byte{}
		}
		return line, tooLong, err
	}
}

// binaryProblem describes why b is not a configuration text line, or "".
func binaryProblem(b []byte) string {
	for i, c := range b {
		switch {
		case c == 0:
			return fmt.Sprintf("line contains a NUL byte at column %d (binary data?)", i+1)
		case c < 0x20 && c != '\t' && c != '\f' && c != '\v' && c != '\r':
			return fmt.Sprintf("line contains control character 0x%02x at column %d", c, i+1)
		case c == 0x7f:
			return fmt.Sprintf("line contains control character 0x7f at column %d", i+1)
		}
	}
	if !utf8.Valid(b) {
		return "line is not valid UTF-8 text (binary data?)"
	}
	return ""
}

// clip quotes an untrusted value for a finding, cutting very long ones.
func clip(s string) string {
	if len(s) <= maxMessageValue {
		return fmt.Sprintf("%q", s)
	}
	cut := maxMessageValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...(%d bytes)", s[:cut], len(s))
}
