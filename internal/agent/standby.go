package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// StandbyFlag is the hidden argument of `heartbeatd resource --standby`: a
// process the script runner starts before it is needed, which waits on its
// stdin for one Request, runs that agent once and exits. A takeover then
// costs no fork and exec of the shell wrapper and of a fresh heartbeatd on
// its critical path; the op still runs in a process of its own (own process
// group, killable, its crash not the daemon's), exactly as through the
// wrapper.
const StandbyFlag = "--standby"

// MaxRequest bounds a Request on the wire. The runner sends the whole
// request before the helper reads it, so it must fit in a pipe's buffer
// (64 KiB on Linux) to never block; larger ones go the fork+exec way.
const MaxRequest = 60 << 10

// Request is what the runner tells a standby helper: which agent, its
// arguments (the resource's, then the op, as the wrapper passes "$@"), and
// the complete environment the script would have had.
type Request struct {
	Agent string   `json:"agent"`
	Args  []string `json:"args"`
	Env   []string `json:"env"`
	// Report, if not 0, is a descriptor the helper inherited (a pipe to the
	// runner) on which it writes the agent's exit code, as one byte, once
	// the agent has returned and stdout and stderr are closed. The runner
	// ends the op on that byte instead of on the process's exit: tearing
	// down a Go process (its threads and address space) takes about a
	// millisecond, which a takeover's status and start would each wait for.
	//
	// An agent that settles early (IO.Settle) has its code written then,
	// followed by SettledEarly, while its output stays open; the helper
	// then writes nothing more there.
	Report int `json:"report,omitempty"`
}

// SettledEarly follows the exit code on the report pipe when the agent
// settled before returning: its output is still open, and the runner ends
// the op without waiting for the end of it.
const SettledEarly = 'E'

// Encode is the request as the runner writes it; the helper reads until
// EOF, so the runner closes the pipe after it.
func (r Request) Encode() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("standby request for %s: %w", r.Agent, err)
	}
	if len(b) > MaxRequest {
		return nil, fmt.Errorf("standby request for %s: %d bytes, more than %d", r.Agent, len(b), MaxRequest)
	}
	return b, nil
}

// ServeStandby is the helper's side: read one Request from in, take its
// environment as the process's own (the tools an agent runs, ip, mount,
// tgtadm, inherit it, as they would from the wrapper), point stdin at
// /dev/null as exec.Cmd gives scripts, and run the agent. An EOF before any
// request means the runner closed the pipe (the daemon stopped or
// discarded this helper): exit quietly.
func ServeStandby(in io.Reader, stderr io.Writer) int {
	// What can be done before the request arrives is off the takeover's
	// path: /dev/null opened for stdin (and for stdout and stderr after
	// the report), and the JSON decoder of a Request built (decoding one
	// cold costs a fresh process 100-300 µs).
	null, nullErr := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if nullErr == nil {
		defer null.Close()
	}
	var warm Request
	_ = json.Unmarshal(warmRequest, &warm)

	b, err := io.ReadAll(io.LimitReader(in, MaxRequest+1))
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: standby helper: reading the request: %v\n", err)
		return Failed
	}
	if len(b) == 0 {
		return OK
	}
	var req Request
	if len(b) > MaxRequest {
		err = fmt.Errorf("more than %d bytes", MaxRequest)
	} else {
		err = json.Unmarshal(b, &req)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: standby helper: bad request: %v\n", err)
		return BadArgs
	}
	if nullErr == nil {
		nullErr = unix.Dup2(int(null.Fd()), 0)
	}
	if req.Report > 0 {
		// The tools the agent runs (and IPaddr's background ARP sender,
		// which may live for days) must not hold the runner's pipe.
		unix.CloseOnExec(req.Report)
	}
	if nullErr != nil {
		fmt.Fprintf(stderr, "ERROR: standby helper: stdin to %s: %v\n", os.DevNull, nullErr)
		return Failed
	}
	os.Clearenv()
	for _, kv := range req.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			os.Setenv(k, v)
		}
	}
	f, ok := Lookup(req.Agent)
	if !ok {
		// The wrapper's `heartbeatd resource NAME` says the same.
		fmt.Fprintf(stderr, "heartbeatd: no built-in resource agent %q\n", req.Agent)
		return NotInstalled
	}
	aio := OS()
	settled := false
	if req.Report > 0 {
		aio.Settle = func(code int) {
			if settled {
				return
			}
			settled = true
			_, _ = unix.Write(req.Report, []byte{byte(code), SettledEarly})
			_ = unix.Close(req.Report)
		}
	}
	code := f(req.Args, aio)
	if req.Report > 0 && !settled {
		report(req.Report, code, null)
	}
	return code
}

// warmRequest is a Request like the runner's, decoded once before the
// real one arrives.
var warmRequest = []byte(`{"agent":"IPaddr","args":["10.0.0.1/24/eth0","status"],"env":["HA_DIR=/etc/ha.d","PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"report":3}`)

// report tells the runner the agent's exit code on descriptor fd, after
// pointing stdout and stderr at /dev/null: the runner must have seen the
// end of the output (EOF on its pipes, unless a child the agent started
// still holds them) by the time it reads the code. Nothing may be written
// to the output after this; a failure here only costs the runner the
// wait for the process's exit, which it falls back to.
func report(fd, code int, null *os.File) {
	err := unix.Dup2(int(null.Fd()), 1)
	if err == nil {
		err = unix.Dup2(int(null.Fd()), 2)
	}
	if err != nil {
		return
	}
	_, _ = unix.Write(fd, []byte{byte(code)})
	_ = unix.Close(fd)
}
