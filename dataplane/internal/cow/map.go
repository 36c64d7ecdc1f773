// Package cow provides Map, an immutable hash map for copy-on-write
// publication: the packet path reads a snapshot without locks or
// allocation, and the control side publishes changed copies whose cost
// does not grow with the map's size.
package cow

import (
	crand "crypto/rand"
	"encoding/binary"
	"iter"
	"math/bits"
)

// Map is an immutable hash map built for copy-on-write publication: a
// two-level radix of 256 x 256 leaves selected by a 32-bit hash of the key,
// each leaf a short slice of entries. A change copies the top array, one
// second-level array and one leaf (about 4 KiB plus the leaf, whatever the
// size of the map, up to some 65,000 x 8 entries), and shares everything
// else with the map it came from, so snapshots held by readers stay valid
// and the cost of a control change does not grow with the number of
// sessions. Lookups are two dependent loads and a scan of a leaf of
// (usually) zero to two entries: no locks, no allocation.
//
// The hash is the caller's: every method takes h, which must be the same
// function of k on every call (Hash64 or Hash128). The zero smap is empty.
type Map[K comparable, V any] struct {
	t *top[K, V]
}

type top[K comparable, V any] struct {
	n    int
	mids [256]*mid[K, V]
}

type mid[K comparable, V any] [256][]entry[K, V]

type entry[K comparable, V any] struct {
	k K
	v V
}

// Get returns the value for k (h is k's hash).
func (m Map[K, V]) Get(h uint32, k K) (v V, ok bool) {
	if m.t == nil {
		return v, false
	}
	md := m.t.mids[h>>24]
	if md == nil {
		return v, false
	}
	for i := range md[h>>16&0xff] {
		if e := &md[h>>16&0xff][i]; e.k == k {
			return e.v, true
		}
	}
	return v, false
}

// Len returns the number of entries.
func (m Map[K, V]) Len() int {
	if m.t == nil {
		return 0
	}
	return m.t.n
}

// Owner records which parts of a map under construction are already
// private copies, so that a batch of changes copies each array at most
// once. The zero value owns nothing; use a fresh one per published map.
type Owner struct {
	top bool
	mid [256]bool
}

// With returns m with k set to v (or removed when del) and whether k was
// present. o says which arrays of m the caller already owns (nil: none);
// those are changed in place, everything else is copied. m itself is
// never changed unless o says its arrays are owned.
func (m Map[K, V]) With(h uint32, k K, v V, del bool, o *Owner) (Map[K, V], bool) {
	if o == nil {
		o = new(Owner)
	}
	ti, li := h>>24, h>>16&0xff
	var leaf []entry[K, V]
	if m.t != nil && m.t.mids[ti] != nil {
		leaf = m.t.mids[ti][li]
	}
	at := -1
	for i := range leaf {
		if leaf[i].k == k {
			at = i
			break
		}
	}
	had := at >= 0
	if del && !had {
		return m, false
	}
	// The new leaf: always a fresh slice, as leaves are tiny and may be
	// shared with older maps.
	var nl []entry[K, V]
	switch {
	case del:
		if len(leaf) > 1 {
			nl = make([]entry[K, V], 0, len(leaf)-1)
			nl = append(append(nl, leaf[:at]...), leaf[at+1:]...)
		}
	case had:
		nl = append(make([]entry[K, V], 0, len(leaf)), leaf...)
		nl[at].v = v
	default:
		nl = append(make([]entry[K, V], 0, len(leaf)+1), leaf...)
		nl = append(nl, entry[K, V]{k: k, v: v})
	}
	if !o.top {
		nt := new(top[K, V])
		if m.t != nil {
			*nt = *m.t
		}
		m.t, o.top = nt, true
	}
	if !o.mid[ti] {
		nm := new(mid[K, V])
		if m.t.mids[ti] != nil {
			*nm = *m.t.mids[ti]
		}
		m.t.mids[ti], o.mid[ti] = nm, true
	}
	m.t.mids[ti][li] = nl
	switch {
	case had && del:
		m.t.n--
	case !had && !del:
		m.t.n++
	}
	return m, had
}

// Set is With for one change.
func (m Map[K, V]) Set(h uint32, k K, v V) Map[K, V] {
	m, _ = m.With(h, k, v, false, nil)
	return m
}

// Del is With for one removal; it returns m unchanged when k is absent.
func (m Map[K, V]) Del(h uint32, k K) Map[K, V] {
	var zero V
	m, _ = m.With(h, k, zero, true, nil)
	return m
}

// All iterates over the entries in no particular order.
func (m Map[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		if m.t == nil {
			return
		}
		for _, md := range m.t.mids {
			if md == nil {
				continue
			}
			for _, leaf := range md {
				for _, e := range leaf {
					if !yield(e.k, e.v) {
						return
					}
				}
			}
		}
	}
}

// hashSeed is random per process so that keys from the wire (SPIs, routes
// learned from peers) cannot be chosen to pile up in one leaf.
var hashSeed = func() uint64 {
	var b [8]byte
	_, _ = crand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return binary.LittleEndian.Uint64(b[:])
}()

// Hash64 hashes a key of up to 64 bits; smap uses its top 16 bits.
func Hash64(x uint64) uint32 {
	x ^= hashSeed
	x ^= x >> 29
	return uint32((x * 0x9e3779b97f4a7c15) >> 32)
}

// Hash128 hashes an IPv6 key.
func Hash128(k [2]uint64) uint32 {
	return Hash64(k[0] ^ bits.RotateLeft64(k[1]*0xc2b2ae3d27d4eb4f, 31))
}
