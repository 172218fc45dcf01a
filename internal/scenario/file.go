// Package scenario reads and rewrites data-driven scenario files, in the
// spirit of etcd-raft's datadriven tests: a file is a sequence of blocks,
// each one or more command lines, a "----" line, and the output the
// commands are expected to produce, up to the next blank line.
//
//	# eth1 repaired: the next status arrives on both links again.
//	advance 1s
//	recv pa2 eth1,eth2 t=status st=active dt=1388 protocol=1
//	----
//	@7.000s send t=status st=active dt=1388 protocol=1 seq=d
//	@7.000s log info: Link pa2:eth1 up.
//	@7.000s link-status pa2:eth1 up
//
// Lines starting with "#" and blank lines before the commands are
// comments; they are kept as they are when the file is rewritten. The
// output of a block runs to the next blank line, so it has none; a block
// whose commands did nothing has an empty output. The package knows
// nothing of what the commands mean beyond the clock (advance, at): a test
// supplies a Core that carries them out and renders the result (see Run).
// Each output line starts with the fake time it happened at, since the
// base of the file's clock.
//
// Why a format of our own rather than github.com/cockroachdb/datadriven:
// the project takes no dependency for test tooling it can write in a few
// hundred lines, and our blocks take several commands under one "----"
// (move the clock, then deliver a packet) where datadriven has one
// directive per case.
package scenario

import (
	"fmt"
	"strconv"
	"strings"
)

// Separator divides a block's commands from its expected output.
const Separator = "----"

// Cmd is one command line: a name and its arguments, with double-quoted
// parts unquoted ("nodelist=\"pa1 pa2 \"" is one argument).
type Cmd struct {
	Name string
	Args []string
	Line int // 1-based line number in the file
}

// Pos lists the arguments without a '=' (positional), in order.
func (c Cmd) Pos() []string {
	var out []string
	for _, a := range c.Args {
		if !strings.Contains(a, "=") {
			out = append(out, a)
		}
	}
	return out
}

// KV is one key=value argument.
type KV struct{ Key, Value string }

// KVs lists the key=value arguments in order; order matters when they are
// the fields of a message.
func (c Cmd) KVs() []KV {
	var out []KV
	for _, a := range c.Args {
		if k, v, ok := strings.Cut(a, "="); ok {
			out = append(out, KV{k, v})
		}
	}
	return out
}

// Get returns the value of the last key=value argument named key.
func (c Cmd) Get(key string) (string, bool) {
	v, ok := "", false
	for _, kv := range c.KVs() {
		if kv.Key == key {
			v, ok = kv.Value, true
		}
	}
	return v, ok
}

func (c Cmd) String() string { return c.Name + " " + strings.Join(c.Args, " ") }

// Block is one group of commands and their expected output.
type Block struct {
	// Lines are the raw lines before the separator: comments, blank
	// lines and the commands, exactly as written.
	Lines []string
	Cmds  []Cmd
	// Sep is the line number of the separator.
	Sep    int
	Output []string
}

// File is a parsed scenario file.
type File struct {
	Name   string
	Blocks []Block
	// Tail holds comments and blank lines after the last block.
	Tail []string
}

// Parse reads a scenario file. A command line that is not followed by a
// separator is an error: it would otherwise never be checked.
func Parse(name, text string) (*File, error) {
	f := &File{Name: name}
	lines := strings.Split(text, "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1] // the final newline ends the last line
	}
	var cur Block
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) != Separator {
			if !isComment(line) {
				c, err := parseCmd(line, i+1)
				if err != nil {
					return nil, fmt.Errorf("%s:%w", name, err)
				}
				cur.Cmds = append(cur.Cmds, c)
			}
			cur.Lines = append(cur.Lines, line)
			continue
		}
		if len(cur.Cmds) == 0 {
			return nil, fmt.Errorf("%s:%d: %s without a command before it", name, i+1, Separator)
		}
		cur.Sep = i + 1
		// The output runs to the next blank line, which ends the block.
		for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
			i++
			cur.Output = append(cur.Output, lines[i])
		}
		if i+1 < len(lines) {
			i++ // the blank line
		}
		f.Blocks = append(f.Blocks, cur)
		cur = Block{}
	}
	if len(cur.Cmds) > 0 {
		return nil, fmt.Errorf("%s:%d: command %q has no %s and expected output after it", name, cur.Cmds[0].Line, cur.Cmds[0].Name, Separator)
	}
	f.Tail = cur.Lines
	return f, nil
}

func isComment(line string) bool {
	s := strings.TrimSpace(line)
	return s == "" || strings.HasPrefix(s, "#")
}

// Format writes the file back. Parse(Format()) gives the same file, and
// Format of a parsed canonical file gives its text back unchanged, which
// is what makes -rewrite idempotent.
func (f *File) Format() string {
	var b strings.Builder
	for i, blk := range f.Blocks {
		for _, l := range blk.Lines {
			b.WriteString(l + "\n")
		}
		b.WriteString(Separator + "\n")
		for _, l := range blk.Output {
			b.WriteString(l + "\n")
		}
		if i+1 < len(f.Blocks) || len(f.Tail) > 0 {
			b.WriteString("\n")
		}
	}
	for _, l := range f.Tail {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// parseCmd splits a command line into words. A word may contain
// double-quoted parts in Go syntax, so a value can hold blanks or be
// empty: key="a b" and key="" are single arguments.
func parseCmd(line string, n int) (Cmd, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == ' ' || ch == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case ch == '"':
			end := closingQuote(line, i)
			if end < 0 {
				return Cmd{}, fmt.Errorf("%d: unterminated quote in %q", n, line)
			}
			s, err := strconv.Unquote(line[i : end+1])
			if err != nil {
				return Cmd{}, fmt.Errorf("%d: bad quoted string %s: %v", n, line[i:end+1], err)
			}
			w.WriteString(s)
			inWord = true
			i = end
		default:
			w.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return Cmd{Name: words[0], Args: words[1:], Line: n}, nil
}

// closingQuote is the index of the '"' that ends the quoted part opened at
// open, skipping backslash escapes; -1 if there is none.
func closingQuote(s string, open int) int {
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// Quote returns v as it must be written in a command or an output line to
// read back as one word: bare when it is a plain word, Go-quoted otherwise.
func Quote(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"\\") || strconv.Quote(v) != `"`+v+`"` {
		return strconv.Quote(v)
	}
	return v
}

// FormatKVs renders key=value pairs in order, quoting values as needed.
func FormatKVs(kvs []KV) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = kv.Key + "=" + Quote(kv.Value)
	}
	return strings.Join(parts, " ")
}
