package iscsi

import (
	"fmt"
	"strconv"
	"strings"
)

// TgtTarget is one target of `tgtadm --op show --mode target`.
type TgtTarget struct {
	TID   int
	Name  string
	State string // "ready" or "offline"
	// Nexuses counts logged-in initiators (I_T nexus lines).
	Nexuses int
	LUNs    []TgtLUN
	// ACL holds the bound initiator addresses/names ("ALL" for any).
	ACL []string
}

// TgtLUN is one logical unit; LUN 0 is tgt's own controller.
type TgtLUN struct {
	LUN  int
	Type string // "controller", "disk", ...
	Path string // backing store path, "None" for the controller
}

// LUN returns the logical unit numbered n.
func (t TgtTarget) LUN(n int) (TgtLUN, bool) {
	for _, l := range t.LUNs {
		if l.LUN == n {
			return l, true
		}
	}
	return TgtLUN{}, false
}

// ParseTgtShow parses tgtadm's target listing (tgt 1.0.x layout: a
// "Target N: NAME" line at column 0, then indented sections). Unknown
// lines inside a target are skipped; anything before the first target, or
// a malformed Target or LUN line, is an error naming the line.
func ParseTgtShow(out string) ([]TgtTarget, error) {
	var targets []TgtTarget
	var cur *TgtTarget
	section := ""
	for i, raw := range strings.Split(out, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		lineNo := i + 1
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			rest, ok := strings.CutPrefix(line, "Target ")
			if !ok {
				return nil, fmt.Errorf("tgtadm output line %d: %q: expected \"Target N: NAME\"", lineNo, line)
			}
			num, name, ok := strings.Cut(rest, ": ")
			tid, err := strconv.Atoi(num)
			if !ok || err != nil || tid <= 0 || strings.TrimSpace(name) == "" {
				return nil, fmt.Errorf("tgtadm output line %d: %q: bad target line", lineNo, line)
			}
			targets = append(targets, TgtTarget{TID: tid, Name: strings.TrimSpace(name)})
			cur = &targets[len(targets)-1]
			section = ""
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("tgtadm output line %d: %q before any target", lineNo, strings.TrimSpace(line))
		}
		text := strings.TrimSpace(line)
		switch text {
		case "System information:", "I_T nexus information:", "LUN information:",
			"Account information:", "ACL information:":
			section = text
			continue
		}
		key, val, _ := strings.Cut(text, ":")
		val = strings.TrimSpace(val)
		switch section {
		case "System information:":
			if key == "State" {
				cur.State = val
			}
		case "I_T nexus information:":
			if key == "I_T nexus" {
				cur.Nexuses++
			}
		case "LUN information:":
			switch key {
			case "LUN":
				n, err := strconv.Atoi(val)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("tgtadm output line %d: %q: bad LUN number", lineNo, text)
				}
				cur.LUNs = append(cur.LUNs, TgtLUN{LUN: n})
			case "Type":
				if len(cur.LUNs) > 0 {
					cur.LUNs[len(cur.LUNs)-1].Type = val
				}
			case "Backing store path":
				if len(cur.LUNs) > 0 {
					cur.LUNs[len(cur.LUNs)-1].Path = val
				}
			}
		case "ACL information:":
			cur.ACL = append(cur.ACL, text)
		}
	}
	return targets, nil
}

// findTarget returns the target called name.
func findTarget(ts []TgtTarget, name string) (TgtTarget, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return TgtTarget{}, false
}

// tgtadmArgs prefixes the control port when one is configured.
func (a *Agent) tgtadmArgs(args ...string) []string {
	if a.ControlPort != 0 {
		return append([]string{"-C", strconv.Itoa(a.ControlPort)}, args...)
	}
	return args
}

// tgtadm runs tgtadm and fails on a non-zero exit, with its message.
func (a *Agent) tgtadm(args ...string) (Result, error) {
	full := a.tgtadmArgs(args...)
	r, err := a.run(a.Tgtadm, full...)
	if err != nil {
		return r, err
	}
	if r.Code != 0 {
		return r, fmt.Errorf("`%s %s` failed (exit %d): %s", a.Tgtadm, strings.Join(full, " "), r.Code, r.Text())
	}
	return r, nil
}

// tgtdAnswers reports whether tgtd answers on the control port.
func (a *Agent) tgtdAnswers() (bool, error) {
	r, err := a.run(a.Tgtadm, a.tgtadmArgs("--op", "show", "--mode", "sys")...)
	if err != nil {
		return false, err
	}
	return r.Code == 0, nil
}

// tgtSysState returns tgtd's system State line ("ready", "offline").
func (a *Agent) tgtSysState() (string, error) {
	r, err := a.tgtadm("--op", "show", "--mode", "sys")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(r.Stdout, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "State:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no State line in `tgtadm --op show --mode sys`")
}

// tgtTargets lists the targets tgtd has.
func (a *Agent) tgtTargets() ([]TgtTarget, error) {
	r, err := a.tgtadm("--lld", a.LLD, "--op", "show", "--mode", "target")
	if err != nil {
		return nil, err
	}
	return ParseTgtShow(r.Stdout)
}

// tgtDeleteTarget deletes a target with --force: on failover the node is
// giving the disk up, and sessions must not keep it (initiators reconnect
// to the peer through the service address).
func (a *Agent) tgtDeleteTarget(tid int) error {
	_, err := a.tgtadm("--lld", a.LLD, "--op", "delete", "--mode", "target", "--force", "--tid", strconv.Itoa(tid))
	return err
}

// nextTID is one more than the highest target id in use.
func nextTID(ts []TgtTarget) int {
	max := 0
	for _, t := range ts {
		if t.TID > max {
			max = t.TID
		}
	}
	return max + 1
}
