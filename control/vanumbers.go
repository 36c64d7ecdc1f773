package control

// vaNumbers hands out Virtual-Access interface numbers: the lowest free
// one, as IOS does, in amortised constant time. A hub accepting thousands
// of spokes allocates one per session; scanning from 1 every time made
// session setup linear in the sessions already up.
type vaNumbers struct {
	inUse map[int]bool
	// low is the lowest number that may be free: every number below it
	// is in use.
	low int
}

func newVANumbers() vaNumbers { return vaNumbers{inUse: map[int]bool{}, low: 1} }

// alloc returns the lowest free number (from 1) and marks it in use.
func (v *vaNumbers) alloc() int {
	n := v.low
	for v.inUse[n] {
		n++
	}
	v.inUse[n] = true
	v.low = n + 1
	return n
}

// free returns n to the pool; freeing a number not in use does nothing.
func (v *vaNumbers) free(n int) {
	if !v.inUse[n] {
		return
	}
	delete(v.inUse, n)
	if n < v.low {
		v.low = n
	}
}
