// Command ietadm is a fake of IET's ietadm and, when run as "ietd", of the
// ietd daemon, for the iscsi agent's tests. It keeps the kernel's targets
// in a JSON file (FAKE_IET_STATE, default next to IET_PROC) and renders
// IET_PROC/volume the way the iscsi_trgt module's /proc/net/iet/volume
// does.
//
// ietadm follows IET 1.4's ietadm.c: `--op new --tid=N --params
// Name=IQN`, `--op new --tid=N --lun=L --params Path=P,Type=T`, `--op
// delete --tid=N [--lun=L]`, `--op delete` (stop all activity), and
// fails when ietd is not running (ietadm talks to ietd over a socket).
// Errors exit with the negative errno as ietadm's main returns it
// (-EEXIST -> 239, -ENOENT -> 254, -EINVAL -> 234, -ECONNREFUSED -> 145).
//
// ietd [-c CONF] [-f] forks like the real one: the parent exits 0, the
// child writes IETD_PIDFILE, loads CONF's Target/Lun lines and runs until
// SIGTERM. Like the real daemon it leaves the kernel's targets in place
// when it dies, which is why stop must delete them first.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const childEnv = "FAKE_IETD_CHILD"

func main() {
	p, err := getPaths()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if filepath.Base(os.Args[0]) == "ietd" {
		os.Exit(ietd(p, os.Args[1:]))
	}
	os.Exit(ietadm(p, os.Args[1:]))
}

// errno exit codes: ietadm returns -errno from main.
func errnoExit(e syscall.Errno) int { return int(uint8(-int(e))) }

// options is a parsed ietadm command line.
type options struct {
	op, params           string
	tid, lun             int
	hasTid, hasLun, user bool
}

func parseArgs(args []string) (options, error) {
	var o options
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		next := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs a value", name)
			}
			i++
			return args[i], nil
		}
		var err error
		switch name {
		case "--op", "-o":
			o.op, err = next()
		case "--tid", "-t":
			var v string
			if v, err = next(); err == nil {
				o.tid, err = strconv.Atoi(v)
				o.hasTid = true
			}
		case "--lun", "-l":
			var v string
			if v, err = next(); err == nil {
				o.lun, err = strconv.Atoi(v)
				o.hasLun = true
			}
		case "--params", "-p":
			o.params, err = next()
		case "--user", "-u":
			o.user = true
		default:
			return o, fmt.Errorf("unrecognized: %s", a)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// ietdAlive reports whether the fake ietd's pid file names a live process.
func ietdAlive(p paths) bool {
	data, err := os.ReadFile(p.pidfile)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}

func ietadm(p paths, args []string) int {
	s, err := load(p)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	line := "ietadm " + strings.Join(args, " ")
	s.Calls = append(s.Calls, line)
	code := ietadmApply(p, s, args, line)
	if err := save(p, s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}

func ietadmApply(p paths, s *State, args []string, line string) int {
	for prefix, code := range s.Fail {
		if strings.HasPrefix(line, prefix) {
			fmt.Fprintf(os.Stderr, "ietd_request: injected failure %d\n", code)
			return code
		}
	}
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintln(os.Stderr, "Try `ietadm --help' for more information.")
		return 255
	}
	if o.op == "" {
		fmt.Fprintln(os.Stderr, "You must specify the operation type")
		return errnoExit(syscall.EINVAL)
	}
	fail := func(e syscall.Errno) int {
		fmt.Fprintf(os.Stderr, "ietd_request 203 %d\n", -int(e))
		return errnoExit(e)
	}
	if !ietdAlive(p) {
		return fail(syscall.ECONNREFUSED)
	}
	switch {
	case o.user:
		return 0
	case o.hasLun:
		if !o.hasTid {
			return errnoExit(syscall.EINVAL)
		}
		t := s.target(o.tid)
		if t == nil {
			return fail(syscall.ENOENT)
		}
		switch o.op {
		case "new":
			l := LUN{LUN: o.lun, Type: "fileio"}
			for _, kv := range strings.Split(o.params, ",") {
				k, v, _ := strings.Cut(kv, "=")
				switch strings.ToLower(k) {
				case "path":
					l.Path = v
				case "type":
					l.Type = v
				}
			}
			if l.Path == "" || (l.Type != "fileio" && l.Type != "blockio" && l.Type != "nullio") {
				return fail(syscall.EINVAL)
			}
			for _, x := range t.LUNs {
				if x.LUN == o.lun {
					return fail(syscall.EEXIST)
				}
			}
			if _, err := os.Stat(l.Path); err != nil {
				return fail(syscall.ENOENT)
			}
			t.LUNs = append(t.LUNs, l)
			return 0
		case "delete":
			for i, x := range t.LUNs {
				if x.LUN == o.lun {
					t.LUNs = append(t.LUNs[:i], t.LUNs[i+1:]...)
					return 0
				}
			}
			return fail(syscall.ENOENT)
		default:
			fmt.Fprintln(os.Stderr, "Unsupported.")
			return errnoExit(syscall.EINVAL)
		}
	case o.hasTid:
		switch o.op {
		case "new":
			name, ok := strings.CutPrefix(o.params, "Name=")
			if !ok || name == "" || o.tid == 0 {
				return errnoExit(syscall.EINVAL)
			}
			if s.target(o.tid) != nil || s.byName(name) != nil {
				return fail(syscall.EEXIST)
			}
			s.Targets = append(s.Targets, Target{TID: o.tid, Name: name})
			return 0
		case "delete":
			for i, t := range s.Targets {
				if t.TID == o.tid {
					s.Targets = append(s.Targets[:i], s.Targets[i+1:]...)
					return 0
				}
			}
			return fail(syscall.ENOENT)
		case "update", "show":
			if s.target(o.tid) == nil {
				return fail(syscall.ENOENT)
			}
			return 0
		}
		return errnoExit(syscall.EINVAL)
	default:
		if o.op == "delete" {
			s.Targets = nil
		}
		return 0
	}
}

func ietd(p paths, args []string) int {
	conf := "/etc/iet/ietd.conf"
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-c" && i+1 < len(args):
			i++
			conf = args[i]
		case strings.HasPrefix(args[i], "--config="):
			conf = strings.TrimPrefix(args[i], "--config=")
		case args[i] == "-f":
		default:
			fmt.Fprintf(os.Stderr, "ietd: unknown option %s\n", args[i])
			return 1
		}
	}
	if os.Getenv(childEnv) == "" {
		s, err := load(p)
		if err == nil {
			s.Calls = append(s.Calls, "ietd "+strings.Join(args, " "))
			err = save(p, s)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := os.Stat(p.proc); err != nil {
			// The real ietd fails opening the module's control device.
			fmt.Fprintln(os.Stderr, "unable to open ctldev fd: No such file or directory")
			return 255
		}
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cmd := exec.Command(self, args...)
		cmd.Args[0] = os.Args[0]
		cmd.Env = append(os.Environ(), childEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s, err := load(p)
	if err != nil {
		return 1
	}
	if data, err := os.ReadFile(conf); err == nil {
		loadConf(s, string(data))
	}
	if err := save(p, s); err != nil {
		return 1
	}
	if err := os.WriteFile(p.pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return 1
	}
	<-sig
	return 0
}

// loadConf adds ietd.conf's targets the way ietd does at start-up: tids
// from 1 in file order, skipping names the kernel already has.
func loadConf(s *State, text string) {
	var cur *Target
	for _, raw := range strings.Split(text, "\n") {
		f := strings.Fields(raw)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "target":
			cur = nil
			if s.byName(f[1]) != nil {
				continue
			}
			tid := 1
			for s.target(tid) != nil {
				tid++
			}
			s.Targets = append(s.Targets, Target{TID: tid, Name: f[1]})
			cur = &s.Targets[len(s.Targets)-1]
		case "lun":
			if cur == nil || len(f) < 3 {
				continue
			}
			n, err := strconv.Atoi(f[1])
			if err != nil {
				continue
			}
			l := LUN{LUN: n, Type: "fileio"}
			for _, kv := range strings.Split(f[2], ",") {
				k, v, _ := strings.Cut(kv, "=")
				switch strings.ToLower(k) {
				case "path":
					l.Path = v
				case "type":
					l.Type = v
				}
			}
			cur.LUNs = append(cur.LUNs, l)
		}
	}
}
