package rm

// rscSet is Heartbeat's resource-set bitmask (HB_NO_RSC .. HB_ALL_RSC):
// "local" means the groups whose home is the sender, "foreign" the others.
type rscSet int

const (
	rscNone    rscSet = 0
	rscLocal   rscSet = 1
	rscForeign rscSet = 2
	rscAll     rscSet = 3
)

var rscNames = [...]string{"none", "local", "foreign", "all"}

func (r rscSet) String() string {
	if r < 0 || int(r) >= len(rscNames) {
		return "(undefined)"
	}
	return rscNames[r]
}

// parseRsc decodes an rsc_hold value. Heartbeat maps unknown values to none
// after logging; we report ok=false so the caller can name the peer.
func parseRsc(s string) (rscSet, bool) {
	for i, n := range rscNames {
		if n == s {
			return rscSet(i), true
		}
	}
	return rscNone, false
}

// updRsc is HB_UPD_RSC: a full update replaces, otherwise the bits are OR-ed,
// except that "none" always clears.
func updRsc(full bool, cur, up rscSet) rscSet {
	if full || up == rscNone {
		return up
	}
	return cur | up
}

// complement is what the other side of a standby exchange acts on.
func (r rscSet) complement() rscSet {
	switch r {
	case rscLocal:
		return rscForeign
	case rscForeign:
		return rscLocal
	}
	return r
}
