package dataplane

import (
	crand "crypto/rand"
	"encoding/binary"
	"iter"
	"math/bits"
)

// smap is an immutable hash map built for copy-on-write publication: a
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
// function of k on every call (hash64 or hash128). The zero smap is empty.
type smap[K comparable, V any] struct {
	t *smapTop[K, V]
}

type smapTop[K comparable, V any] struct {
	n    int
	mids [256]*smapMid[K, V]
}

type smapMid[K comparable, V any] [256][]smapEntry[K, V]

type smapEntry[K comparable, V any] struct {
	k K
	v V
}

// get returns the value for k (h is k's hash).
func (m smap[K, V]) get(h uint32, k K) (v V, ok bool) {
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

// len returns the number of entries.
func (m smap[K, V]) len() int {
	if m.t == nil {
		return 0
	}
	return m.t.n
}

// smapOwner records which parts of a map under construction are already
// private copies, so that a batch of changes copies each array at most
// once. The zero value owns nothing; use a fresh one per published map.
type smapOwner struct {
	top bool
	mid [256]bool
}

// with returns m with k set to v (or removed when del) and whether k was
// present. o says which arrays of m the caller already owns (nil: none);
// those are changed in place, everything else is copied. m itself is
// never changed unless o says its arrays are owned.
func (m smap[K, V]) with(h uint32, k K, v V, del bool, o *smapOwner) (smap[K, V], bool) {
	if o == nil {
		o = new(smapOwner)
	}
	ti, li := h>>24, h>>16&0xff
	var leaf []smapEntry[K, V]
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
	var nl []smapEntry[K, V]
	switch {
	case del:
		if len(leaf) > 1 {
			nl = make([]smapEntry[K, V], 0, len(leaf)-1)
			nl = append(append(nl, leaf[:at]...), leaf[at+1:]...)
		}
	case had:
		nl = append(make([]smapEntry[K, V], 0, len(leaf)), leaf...)
		nl[at].v = v
	default:
		nl = append(make([]smapEntry[K, V], 0, len(leaf)+1), leaf...)
		nl = append(nl, smapEntry[K, V]{k: k, v: v})
	}
	if !o.top {
		nt := new(smapTop[K, V])
		if m.t != nil {
			*nt = *m.t
		}
		m.t, o.top = nt, true
	}
	if !o.mid[ti] {
		nm := new(smapMid[K, V])
		if m.t.mids[ti] != nil {
			*nm = *m.t.mids[ti]
		}
		m.t.mids[ti], o.mid[ti] = nm, true
	}
	m.t.mids[ti][li] = nl
	m.t.n += count(had, del)
	return m, had
}

// set is with for one change.
func (m smap[K, V]) set(h uint32, k K, v V) smap[K, V] {
	m, _ = m.with(h, k, v, false, nil)
	return m
}

// del is with for one removal; it returns m unchanged when k is absent.
func (m smap[K, V]) del(h uint32, k K) smap[K, V] {
	var zero V
	m, _ = m.with(h, k, zero, true, nil)
	return m
}

// all iterates over the entries in no particular order.
func (m smap[K, V]) all() iter.Seq2[K, V] {
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

// hash64 hashes a key of up to 64 bits; smap uses its top 16 bits.
func hash64(x uint64) uint32 {
	x ^= hashSeed
	x ^= x >> 29
	return uint32((x * 0x9e3779b97f4a7c15) >> 32)
}

// hash128 hashes an IPv6 key.
func hash128(k [2]uint64) uint32 {
	return hash64(k[0] ^ bits.RotateLeft64(k[1]*0xc2b2ae3d27d4eb4f, 31))
}
