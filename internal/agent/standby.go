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
}

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
	if err := nullStdin(); err != nil {
		fmt.Fprintf(stderr, "ERROR: standby helper: %v\n", err)
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
	return f(req.Args, OS())
}

// nullStdin replaces fd 0 (the request pipe, at EOF) by /dev/null.
func nullStdin() error {
	null, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer null.Close()
	if err := unix.Dup2(int(null.Fd()), 0); err != nil {
		return fmt.Errorf("stdin to %s: %w", os.DevNull, err)
	}
	return nil
}
