package filesystem

import (
	"fmt"
	"strconv"
	"strings"
)

// Mount is one line of /proc/PID/mountinfo (proc(5)).
type Mount struct {
	ID, Parent   int
	Major, Minor uint32 // st_dev of files on this filesystem
	Root         string // path inside the filesystem that is mounted here
	Point        string // mount point, relative to the reader's root
	Options      string // per-mount options
	FSType       string
	Source       string // "/dev/sdb1", "server:/export", "tmpfs", ...
	SuperOptions string
}

// ParseMountInfo parses a mountinfo file. A malformed line is an error naming
// the line: a kernel we do not understand must not be read as "nothing
// mounted".
func ParseMountInfo(data []byte) ([]Mount, error) {
	var out []Mount
	for n, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		m, err := parseMountLine(line)
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n+1, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// parseMountLine reads
// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue":
// six fixed fields, optional fields up to a lone "-", then three more.
func parseMountLine(line string) (Mount, error) {
	f := strings.Split(line, " ")
	var m Mount
	if len(f) < 10 {
		return m, fmt.Errorf("%d fields, want at least 10", len(f))
	}
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || len(f) != sep+4 {
		return m, fmt.Errorf("no \"-\" separator followed by 3 fields")
	}
	var err error
	if m.ID, err = strconv.Atoi(f[0]); err != nil {
		return m, fmt.Errorf("mount id %q: %w", f[0], err)
	}
	if m.Parent, err = strconv.Atoi(f[1]); err != nil {
		return m, fmt.Errorf("parent id %q: %w", f[1], err)
	}
	maj, min, ok := strings.Cut(f[2], ":")
	if !ok {
		return m, fmt.Errorf("device %q is not major:minor", f[2])
	}
	major, err := strconv.ParseUint(maj, 10, 32)
	if err != nil {
		return m, fmt.Errorf("device major %q: %w", maj, err)
	}
	minor, err := strconv.ParseUint(min, 10, 32)
	if err != nil {
		return m, fmt.Errorf("device minor %q: %w", min, err)
	}
	m.Major, m.Minor = uint32(major), uint32(minor)
	if m.Root, err = unescapeOctal(f[3]); err != nil {
		return m, fmt.Errorf("root: %w", err)
	}
	if m.Point, err = unescapeOctal(f[4]); err != nil {
		return m, fmt.Errorf("mount point: %w", err)
	}
	m.Options = f[5]
	if m.FSType, err = unescapeOctal(f[sep+1]); err != nil {
		return m, fmt.Errorf("fstype: %w", err)
	}
	if m.Source, err = unescapeOctal(f[sep+2]); err != nil {
		return m, fmt.Errorf("source: %w", err)
	}
	m.SuperOptions = f[sep+3]
	return m, nil
}

// unescapeOctal undoes the kernel's mangling of space, tab, newline and
// backslash as \040, \011, \012 and \134 (and any other \ooo).
func unescapeOctal(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+4 > len(s) {
			return "", fmt.Errorf("truncated escape in %q", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape %q in %q", s[i:i+4], s)
		}
		b.WriteByte(byte(v))
		i += 3
	}
	return b.String(), nil
}
