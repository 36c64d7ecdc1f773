package dataplane

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/esphub/esphub/dataplane/internal/cow"
)

// lpm is an immutable longest-prefix-match table for IPv4 and IPv6: one
// hash map (a cow.Map) per prefix length in use, probed from the longest
// length down. Updates build a new table sharing everything except the
// small part of the one map changed (copy-on-write), so readers need no
// locks and a change costs the same at 100 or 100,000 routes.
type lpm[V any] struct {
	v4     [33]cow.Map[uint32, V]
	v4lens []uint8 // lengths in use, longest first
	v6     [129]cow.Map[[2]uint64, V]
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
			if v, ok = t.v4[l].Get(cow.Hash64(uint64(m)), m); ok {
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
		if v, ok = t.v6[l].Get(cow.Hash128(k), k); ok {
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

// lpmOwner tracks, for one table under construction, which per-length maps
// are already private copies (see cow.Owner).
type lpmOwner struct {
	v4 [33]*cow.Owner
	v6 [129]*cow.Owner
}

// withMany returns a copy of t with all changes applied as one table:
// each touched array is copied at most once, so loading n routes costs
// O(n), and one route costs the same whatever the table's size.
func (t *lpm[V]) withMany(changes []lpmEntry[V]) *lpm[V] {
	nt := new(lpm[V])
	if t != nil {
		*nt = *t
	}
	var o lpmOwner
	for _, c := range changes {
		nt.apply(c.p, c.v, c.del, &o)
	}
	nt.v4lens = lens(nt.v4[:])
	nt.v6lens = lens(nt.v6[:])
	return nt
}

// apply changes nt (a private copy) in place, copying the per-length maps
// it shares on first touch.
func (nt *lpm[V]) apply(p netip.Prefix, v V, del bool, o *lpmOwner) {
	p = p.Masked()
	bits := p.Bits()
	var had bool
	if p.Addr().Is4() {
		if o.v4[bits] == nil {
			o.v4[bits] = new(cow.Owner)
		}
		k := v4key(p.Addr(), bits)
		nt.v4[bits], had = nt.v4[bits].With(cow.Hash64(uint64(k)), k, v, del, o.v4[bits])
	} else {
		if o.v6[bits] == nil {
			o.v6[bits] = new(cow.Owner)
		}
		k := v6key(p.Addr(), bits)
		nt.v6[bits], had = nt.v6[bits].With(cow.Hash128(k), k, v, del, o.v6[bits])
	}
	nt.n += count(had, del)
}

// with returns a copy of t with p set to v (or removed when del).
func (t *lpm[V]) with(p netip.Prefix, v V, del bool) *lpm[V] {
	return t.withMany([]lpmEntry[V]{{p: p, v: v, del: del}})
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

func lens[K comparable, V any](maps []cow.Map[K, V]) []uint8 {
	var out []uint8
	for l, m := range maps {
		if m.Len() > 0 {
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
		k := v4key(p.Addr(), p.Bits())
		v, ok = t.v4[p.Bits()].Get(cow.Hash64(uint64(k)), k)
	} else {
		k := v6key(p.Addr(), p.Bits())
		v, ok = t.v6[p.Bits()].Get(cow.Hash128(k), k)
	}
	return v, ok
}

// walk calls fn for every entry, IPv4 first, longest prefixes first.
func (t *lpm[V]) walk(fn func(netip.Prefix, V)) {
	if t == nil {
		return
	}
	for _, l := range t.v4lens {
		for k, v := range t.v4[l].All() {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], k)
			fn(netip.PrefixFrom(netip.AddrFrom4(b), int(l)), v)
		}
	}
	for _, l := range t.v6lens {
		for k, v := range t.v6[l].All() {
			var b [16]byte
			binary.BigEndian.PutUint64(b[:8], k[0])
			binary.BigEndian.PutUint64(b[8:], k[1])
			fn(netip.PrefixFrom(netip.AddrFrom16(b), int(l)), v)
		}
	}
}
