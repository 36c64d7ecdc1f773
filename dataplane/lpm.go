package dataplane

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// lpm is an immutable longest-prefix-match table for IPv4 and IPv6: one
// hash map per prefix length in use, probed from the longest length down.
// Updates build a new table sharing every map except the one changed
// (copy-on-write), so readers need no locks.
type lpm[V any] struct {
	v4     [33]map[uint32]V
	v4lens []uint8 // lengths in use, longest first
	v6     [129]map[[2]uint64]V
	v6lens []uint8
	n      int
}

func v4key(a netip.Addr, bits int) uint32 {
	b := a.As4()
	k := binary.BigEndian.Uint32(b[:])
	if bits == 0 {
		return 0
	}
	return k &^ (1<<(32-bits) - 1)
}

func v6key(a netip.Addr, bits int) [2]uint64 {
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	switch {
	case bits == 0:
		return [2]uint64{}
	case bits < 64:
		return [2]uint64{hi &^ (1<<(64-bits) - 1), 0}
	case bits == 64:
		return [2]uint64{hi, 0}
	case bits < 128:
		return [2]uint64{hi, lo &^ (1<<(128-bits) - 1)}
	}
	return [2]uint64{hi, lo}
}

// lookup returns the value of the longest prefix containing a.
func (t *lpm[V]) lookup(a netip.Addr) (v V, ok bool) {
	if t == nil {
		return v, false
	}
	if a.Is4() {
		b := a.As4()
		k := binary.BigEndian.Uint32(b[:])
		for _, l := range t.v4lens {
			m := k
			if l < 32 {
				m = k &^ (1<<(32-l) - 1)
				if l == 0 {
					m = 0
				}
			}
			if v, ok = t.v4[l][m]; ok {
				return v, true
			}
		}
		return v, false
	}
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	for _, l := range t.v6lens {
		var k [2]uint64
		switch {
		case l == 0:
		case l < 64:
			k = [2]uint64{hi &^ (1<<(64-l) - 1), 0}
		case l == 64:
			k = [2]uint64{hi, 0}
		case l < 128:
			k = [2]uint64{hi, lo &^ (1<<(128-l) - 1)}
		default:
			k = [2]uint64{hi, lo}
		}
		if v, ok = t.v6[l][k]; ok {
			return v, true
		}
	}
	return v, false
}

// lpmEntry is one change for withMany.
type lpmEntry[V any] struct {
	p   netip.Prefix
	v   V
	del bool
}

// withMany returns a copy of t with all changes applied, copying each
// touched per-length map once: loading a large table costs O(n), not the
// O(n^2) of n single updates.
func (t *lpm[V]) withMany(changes []lpmEntry[V]) *lpm[V] {
	nt := new(lpm[V])
	if t != nil {
		*nt = *t
	}
	var copied4 [33]bool
	var copied6 [129]bool
	for _, c := range changes {
		p := c.p.Masked()
		bits := p.Bits()
		if p.Addr().Is4() {
			if !copied4[bits] {
				m := make(map[uint32]V, len(nt.v4[bits])+1)
				for k, val := range nt.v4[bits] {
					m[k] = val
				}
				nt.v4[bits], copied4[bits] = m, true
			}
			k := v4key(p.Addr(), bits)
			_, had := nt.v4[bits][k]
			if c.del {
				delete(nt.v4[bits], k)
			} else {
				nt.v4[bits][k] = c.v
			}
			nt.n += count(had, c.del)
		} else {
			if !copied6[bits] {
				m := make(map[[2]uint64]V, len(nt.v6[bits])+1)
				for k, val := range nt.v6[bits] {
					m[k] = val
				}
				nt.v6[bits], copied6[bits] = m, true
			}
			k := v6key(p.Addr(), bits)
			_, had := nt.v6[bits][k]
			if c.del {
				delete(nt.v6[bits], k)
			} else {
				nt.v6[bits][k] = c.v
			}
			nt.n += count(had, c.del)
		}
	}
	nt.v4lens = lens(nt.v4[:])
	nt.v6lens = lens(nt.v6[:])
	return nt
}

// with returns a copy of t with p set to v (or removed when del).
func (t *lpm[V]) with(p netip.Prefix, v V, del bool) *lpm[V] {
	nt := new(lpm[V])
	if t != nil {
		*nt = *t
	}
	p = p.Masked()
	bits := p.Bits()
	if p.Addr().Is4() {
		old := nt.v4[bits]
		m := make(map[uint32]V, len(old)+1)
		for k, val := range old {
			m[k] = val
		}
		k := v4key(p.Addr(), bits)
		_, had := m[k]
		if del {
			delete(m, k)
		} else {
			m[k] = v
		}
		nt.n += count(had, del)
		if len(m) == 0 {
			m = nil
		}
		nt.v4[bits] = m
		nt.v4lens = lens(nt.v4[:])
	} else {
		old := nt.v6[bits]
		m := make(map[[2]uint64]V, len(old)+1)
		for k, val := range old {
			m[k] = val
		}
		k := v6key(p.Addr(), bits)
		_, had := m[k]
		if del {
			delete(m, k)
		} else {
			m[k] = v
		}
		nt.n += count(had, del)
		if len(m) == 0 {
			m = nil
		}
		nt.v6[bits] = m
		nt.v6lens = lens(nt.v6[:])
	}
	return nt
}

func count(had, del bool) int {
	switch {
	case had && del:
		return -1
	case !had && !del:
		return 1
	}
	return 0
}

func lens[M ~map[K]V, K comparable, V any](maps []M) []uint8 {
	var out []uint8
	for l, m := range maps {
		if len(m) > 0 {
			out = append(out, uint8(l))
		}
	}
	slices.Reverse(out)
	return out
}

// get returns the exact entry for p.
func (t *lpm[V]) get(p netip.Prefix) (v V, ok bool) {
	if t == nil {
		return v, false
	}
	p = p.Masked()
	if p.Addr().Is4() {
		v, ok = t.v4[p.Bits()][v4key(p.Addr(), p.Bits())]
	} else {
		v, ok = t.v6[p.Bits()][v6key(p.Addr(), p.Bits())]
	}
	return v, ok
}

// walk calls fn for every entry, IPv4 first, longest prefixes first.
func (t *lpm[V]) walk(fn func(netip.Prefix, V)) {
	if t == nil {
		return
	}
	for _, l := range t.v4lens {
		for k, v := range t.v4[l] {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], k)
			fn(netip.PrefixFrom(netip.AddrFrom4(b), int(l)), v)
		}
	}
	for _, l := range t.v6lens {
		for k, v := range t.v6[l] {
			var b [16]byte
			binary.BigEndian.PutUint64(b[:8], k[0])
			binary.BigEndian.PutUint64(b[8:], k[1])
			fn(netip.PrefixFrom(netip.AddrFrom16(b), int(l)), v)
		}
	}
}
