package control

import (
	"errors"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// QueryGroup is the group whose members may ask the daemon questions:
// Heartbeat's package creates it (with the hacluster user) for cluster
// clients, and monitoring checks (Nagios, Zabbix) run cl_status as a user in
// it. Debian's postinst creates it for heartbeatd too.
const QueryGroup = "haclient"

// queries are the commands that only read the daemon's state. Root and
// members of QueryGroup may run them; every other command changes the
// cluster (standby, takeover, cleanup, reload, outdate) and needs root. This
// is the one list: a new read-only command is added here.
var queries = []string{"cl_status", "status"}

// IsQuery reports whether cmd only reads the daemon's state.
func IsQuery(cmd string) bool { return slices.Contains(queries, cmd) }

// CodeDenied is the exit code of a refused command: cl_status's "normal
// failure", which is also what Heartbeat's cl_status returns when it cannot
// sign on, and the failure code of hb_standby and hb_takeover.
const CodeDenied = 1

// queryGroup is the group resolved when the socket was created; a Server
// without one (nil) answers root only.
type queryGroup struct {
	name string
	gid  uint32
}

func lookupGroup(name string) (*queryGroup, error) {
	g, err := user.LookupGroup(name)
	if errors.As(err, new(user.UnknownGroupError)) {
		return nil, fmt.Errorf("group %s does not exist", name)
	}
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("group %s: gid %q: %w", name, g.Gid, err)
	}
	return &queryGroup{name: name, gid: uint32(gid)}, nil
}

// peer is the process at the other end of a connection as the kernel
// recorded it at connect(): SO_PEERCRED's uid, gid and pid, and
// SO_PEERGROUPS' supplementary groups. Both are taken from the socket, not
// from /proc/PID (whose process may have exited and its pid been reused by
// then) nor from the group database (which says what a user would get at
// the next login, not what this process holds).
type peer struct {
	uid, gid uint32
	pid      int32
	groups   []uint32
}

// role is what a peer may do.
type role int

const (
	stranger role = iota // nothing
	reader               // the query commands
	admin                // everything
)

func (s *Server) roleOf(p peer) role {
	switch {
	case int64(p.uid) == int64(s.AllowUID):
		return admin
	case s.query != nil && (p.gid == s.query.gid || slices.Contains(p.groups, s.query.gid)):
		return reader
	}
	return stranger
}

// toolName is what the admin typed for cmd, for error messages.
func toolName(cmd string) string {
	switch cmd {
	case "standby":
		return "hb_standby"
	case "takeover":
		return "hb_takeover"
	case "outdate":
		return "drbd-peer-outdater"
	case "cl_status":
		return "cl_status"
	case "status", "reload", "cleanup":
		return "heartbeatd " + cmd
	}
	return fmt.Sprintf("command %q", cmd)
}

// Denied is the answer to cmd from a peer that may not run it, the same
// whether the server refuses it or the socket's mode already did (Call).
func Denied(cmd string) Response {
	need := "root"
	if IsQuery(cmd) {
		need = "root or group " + QueryGroup
	}
	return Response{Stderr: fmt.Sprintf("permission denied: %s needs %s\n", toolName(cmd), need), Code: CodeDenied}
}

// strangerRefusal answers a peer that may run nothing, before its request
// is read: unprivileged users never reach the request parser.
var strangerRefusal = Response{
	Stderr: "permission denied: heartbeatd admin commands need root, cl_status needs root or group " + QueryGroup + "\n",
	Code:   CodeDenied,
}

func peerOf(fd int) (peer, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return peer{}, fmt.Errorf("SO_PEERCRED: %w", err)
	}
	p := peer{uid: cred.Uid, gid: cred.Gid, pid: cred.Pid}
	p.groups, err = peerGroups(fd)
	if err == unix.ENOPROTOOPT {
		// Kernels before 4.13: the primary group still counts.
		err = nil
	}
	return p, err
}

// peerGroups reads SO_PEERGROUPS, which x/sys/unix has no wrapper for.
// A buffer that is too small is answered with ERANGE and the size needed.
func peerGroups(fd int) ([]uint32, error) {
	buf := make([]uint32, 64)
	for range 3 {
		n := uint32(len(buf) * 4)
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		switch {
		case e == unix.ERANGE && int(n/4) > len(buf):
			buf = make([]uint32, n/4)
			continue
		case e == unix.ENOPROTOOPT:
			return nil, e
		case e != 0:
			return nil, fmt.Errorf("SO_PEERGROUPS: %w", e)
		}
		return buf[:n/4], nil
	}
	return nil, fmt.Errorf("SO_PEERGROUPS: group list keeps growing")
}
