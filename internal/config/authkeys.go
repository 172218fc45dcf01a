package config

import (
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"heartbeatd/internal/diag"
)

// MaxAuthIndex is the largest key index (Heartbeat's MAXAUTH is 16).
const MaxAuthIndex = 15

// Authentication methods. Heartbeat 3.0.6 ships crc, md5 and sha1; sha256
// is a heartbeatd extension that real Heartbeat nodes cannot verify.
const (
	MethodCRC    = "crc"
	MethodMD5    = "md5"
	MethodSHA1   = "sha1"
	MethodSHA256 = "sha256"
)

// Authkeys is a parsed authkeys file.
type Authkeys struct {
	// Active is the index used to sign outgoing packets, -1 when none was
	// selected (an error finding says why).
	Active int
	// Keys holds every key line by index; all of them are accepted on
	// input, which is how keys are rotated.
	Keys map[int]Key
}

// Key is one "N method [secret]" line.
type Key struct {
	Index  int
	Method string
	Secret string // "" for crc
	Line   int
}

// ActiveKey returns the signing key.
func (a *Authkeys) ActiveKey() (Key, bool) {
	k, ok := a.Keys[a.Active]
	return k, ok && a.Active >= 0
}

// LoadAuthkeys reads the authkeys file at path. It refuses a file that
// group or other may access in any way (Heartbeat checks only their read
// bits, so a 0620 file passed: anyone in the group could replace the keys)
// and one owned by another user than the one reading it (root, for the
// daemon): the keys are the cluster's only protection against forged
// packets.
func LoadAuthkeys(path string) (*Authkeys, diag.List) {
	var l diag.List
	f, err := os.Open(path)
	if err != nil {
		l.Errorf(path, 0, "Cannot open keyfile [%s]: %v", path, err)
		return &Authkeys{Active: -1, Keys: map[int]Key{}}, l
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		l.Errorf(path, 0, "cannot stat keyfile: %v", err)
		return &Authkeys{Active: -1, Keys: map[int]Key{}}, l
	}
	if !fi.Mode().IsRegular() {
		l.Errorf(path, 0, "keyfile is not a regular file")
		return &Authkeys{Active: -1, Keys: map[int]Key{}}, l
	}
	if fi.Mode().Perm()&0o077 != 0 {
		l.Errorf(path, 0, "Bad permissions on keyfile [%s], 600 recommended: it is %04o; run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		l.Errorf(path, 0, "keyfile [%s] is owned by uid %d, not by uid %d (root, for the daemon): another user could change the keys; run chown root %s", path, st.Uid, os.Geteuid(), path)
	}
	a, pl := ParseAuthkeys(f, path)
	return a, append(l, pl...)
}

// ParseAuthkeys parses an authkeys file with Heartbeat's rules (auth.c
// parse_authfile): lines are trimmed, '#' lines and blank lines skipped; a
// line starting with 'a' must be "auth N"; other lines are "N method [key]"
// where the key is one blank-free token, so '#' or ';' inside a key is part
// of it. The signing key is chosen while reading a key line whose index is
// the current "auth N", so "auth N" must come first.
func ParseAuthkeys(r io.Reader, file string) (*Authkeys, diag.List) {
	var l diag.List
	a := &Authkeys{Active: -1, Keys: map[int]Key{}}
	authnum, authLine := -1, 0
	for _, ln := range readLines(r, file, &l) {
		text := strings.Trim(ln.text, whitespace)
		if text == "" || text[0] == '#' {
			continue
		}
		fields := strings.Fields(text)
		if text[0] == 'a' {
			n, ok := parseAuthLine(fields)
			if !ok {
				l.Errorf(file, ln.num, "invalid auth line: expected 'auth N' with N in 0-%d (%s)", MaxAuthIndex, notShown)
				continue
			}
			if authLine > 0 {
				l.Warnf(file, ln.num, "auth given again; 'auth %d' replaces 'auth %d' from line %d", n, authnum, authLine)
			}
			if len(fields) > 2 && fields[2][0] != '#' {
				l.Warnf(file, ln.num, "text after 'auth %d' is ignored", n)
			}
			authnum, authLine = n, ln.num
			continue
		}
		k, ok := parseKeyLine(fields, ln.num, file, &l)
		if !ok {
			continue
		}
		if old, dup := a.Keys[k.Index]; dup {
			l.Warnf(file, ln.num, "key %d defined again; this line replaces line %d", k.Index, old.Line)
		}
		a.Keys[k.Index] = k
		if k.Index == authnum {
			a.Active = k.Index
		}
	}
	if a.Active < 0 {
		switch {
		case authnum < 0:
			l.Errorf(file, 0, "Missing auth directive in keyfile [%s]: add 'auth N' before the key line 'N method key'", file)
		case hasKey(a, authnum):
			l.Errorf(file, authLine, "Auth Key [%d] not found in keyfile [%s]: the 'auth %d' line must come before the key line %d", authnum, file, authnum, a.Keys[authnum].Line)
		default:
			l.Errorf(file, authLine, "Auth Key [%d] not found in keyfile [%s]", authnum, file)
		}
	}
	return a, l
}

func hasKey(a *Authkeys, i int) bool { _, ok := a.Keys[i]; return ok }

// notShown ends a finding about a line of authkeys that the finding does
// not quote: findings go to syslog, the journal (the unit's ExecStartPre
// runs check) and check's output, and any word of a malformed line may be
// a key (a line "1 secret" has the key where the method should be).
const notShown = "the line is not shown: authkeys holds secrets"

// parseAuthLine reads "auth N".
func parseAuthLine(fields []string) (int, bool) {
	if len(fields) < 2 || fields[0] != "auth" {
		return 0, false
	}
	n, err := strconv.Atoi(fields[1])
	if err != nil || n < 0 || n > MaxAuthIndex {
		return 0, false
	}
	return n, true
}

// parseKeyLine reads "N method [key]".
func parseKeyLine(fields []string, line int, file string, l *diag.List) (Key, bool) {
	if len(fields) < 2 {
		l.Errorf(file, line, "invalid line: expected 'auth N' or 'N method key' (%s)", notShown)
		return Key{}, false
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil {
		l.Errorf(file, line, "invalid line: the key index is not a number (expected 'N method key'; %s)", notShown)
		return Key{}, false
	}
	if n < 0 || n > MaxAuthIndex {
		l.Errorf(file, line, "invalid key index %d: must be 0-%d", n, MaxAuthIndex)
		return Key{}, false
	}
	k := Key{Index: n, Method: fields[1], Line: line}
	if len(fields) > 2 {
		k.Secret = fields[2]
	}
	switch k.Method {
	case MethodCRC:
		if k.Secret != "" {
			l.Errorf(file, line, "auth method crc doesn't use a key; remove the text after 'crc'")
			return Key{}, false
		}
		l.Warnf(file, line, "auth method crc gives no security: anyone on the network can forge packets; use sha1")
	case MethodMD5, MethodSHA1, MethodSHA256:
		if k.Secret == "" {
			l.Errorf(file, line, "auth method %s requires a key", k.Method)
			return Key{}, false
		}
		if k.Method == MethodSHA256 {
			l.Warnf(file, line, "auth method sha256 is a heartbeatd extension: real Heartbeat nodes cannot use it")
		}
	default:
		l.Errorf(file, line, "unknown auth method (known: crc, md5, sha1, sha256; the line must read 'N method key'; %s)", notShown)
		return Key{}, false
	}
	// Heartbeat reads the key with sscanf("%s"): a key cannot contain
	// blanks, and whatever follows the first word is dropped. Say so, since
	// "secret with blanks" would silently become "secret".
	if len(fields) > 3 && !strings.HasPrefix(fields[3], "#") {
		l.Warnf(file, line, "text after the key is ignored: keys cannot contain blanks, so only the first word after the method is the key")
	}
	return k, true
}
