package ipaddr

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"heartbeatd/internal/garp"
)

// Environment knobs (see the package doc).
const (
	envCount    = "HA_ARP_COUNT"
	envFast     = "HA_ARP_FAST"
	envFastMS   = "HA_ARP_FAST_MS"
	envInterval = "HA_ARP_INTERVAL_MS"
	envMode     = "HA_ARP_MODE"
	envNoProbe  = "HA_IPADDR_NO_PROBE"
	envProbeMS  = "HA_IPADDR_PROBE_MS"
)

// defaultProbeWait is how long start listens for another holder of the
// address. A live Linux host answers an ARP probe from its softirq, within
// a millisecond or two even when loaded; 50 ms with a second probe halfway
// covers one lost frame with a wide margin, and every millisecond here is
// added to each takeover (the gratuitous ARP waits for the verdict). Raise
// it with HA_IPADDR_PROBE_MS on a slow or lossy LAN.
const defaultProbeWait = 50 * time.Millisecond

// burstFromEnv reads the HA_ARP_* knobs over garp.DefaultBurst. A bad value
// is reported and ignored, never fatal: a typo in an environment file must
// not turn a takeover into a failed start.
func burstFromEnv(getenv func(string) string) (garp.Burst, []string) {
	b := garp.DefaultBurst()
	var warns []string
	num := func(name string, set func(int)) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			warns = append(warns, fmt.Sprintf("%s=%q is not a non-negative integer; using the default", name, v))
			return
		}
		set(n)
	}
	fastSet := false
	num(envCount, func(n int) { b.Count = n })
	num(envFast, func(n int) { b.Fast, fastSet = n, true })
	num(envFastMS, func(n int) { b.FastInterval = time.Duration(n) * time.Millisecond })
	num(envInterval, func(n int) { b.SlowInterval = time.Duration(n) * time.Millisecond })
	if v := getenv(envMode); strings.TrimSpace(v) != "" {
		m, err := garp.ParseMode(v)
		if err != nil {
			warns = append(warns, fmt.Sprintf("%s: %v; using both", envMode, err))
		} else {
			b.Mode = m
		}
	}
	// HA_ARP_COUNT=2 alone should not be an error just because the
	// default fast head (3) is longer than the burst.
	if !fastSet && b.Fast > b.Count {
		b.Fast = b.Count
	}
	if err := b.Validate(); err != nil {
		warns = append(warns, fmt.Sprintf("HA_ARP_* settings: %v; using the defaults", err))
		b = garp.DefaultBurst()
	}
	return b, warns
}

// probeFromEnv returns how long to listen for another holder before start,
// 0 meaning no probe.
func probeFromEnv(getenv func(string) string) (time.Duration, []string) {
	switch strings.TrimSpace(getenv(envNoProbe)) {
	case "", "0", "no", "false":
	default:
		return 0, nil
	}
	v := strings.TrimSpace(getenv(envProbeMS))
	if v == "" {
		return defaultProbeWait, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 10 || n > 10000 {
		return defaultProbeWait, []string{fmt.Sprintf("%s=%q is not a number of milliseconds in 10..10000; using %d", envProbeMS, v, defaultProbeWait.Milliseconds())}
	}
	return time.Duration(n) * time.Millisecond, nil
}

// BurstFromEnv reads the HA_ARP_* knobs (see the package doc). IPv6addr
// times its neighbour advertisements by the same knobs.
func BurstFromEnv(getenv func(string) string) (garp.Burst, []string) { return burstFromEnv(getenv) }

// ProbeFromEnv reads HA_IPADDR_NO_PROBE and HA_IPADDR_PROBE_MS: how long
// a start listens for another holder of the address, 0 for not at all.
// IPv6addr's duplicate address check follows them too.
func ProbeFromEnv(getenv func(string) string) (time.Duration, []string) { return probeFromEnv(getenv) }
