package ike

import "net/netip"

// Indexes of the engine's SAs, so that what an IKE_AUTH asks of them
// (INITIAL_CONTACT, a fresh Child SA SPI, whether we already have an SA
// with a peer) costs the same with 50 or 50,000 sessions. All are owned by
// the Run goroutine and kept up to date by addSA, setRemote, indexRemoteID
// and destroy (IKE SAs) and makeChild and remove (Child SAs).
type saIndexes struct {
	// byPeer holds every IKE SA in Engine.sas by its peer's address, and
	// byRemoteID every authenticated IKE SA by the peer's identity: the
	// first SA of a list threaded through the SAs themselves (ikeSA.links),
	// so that filing an SA allocates nothing.
	byPeer     map[netip.Addr]*ikeSA
	byRemoteID map[string]*ikeSA
	// childSPIs is every inbound ESP SPI of our Child SAs.
	childSPIs map[uint32]*childSA
	// outgoingN counts the SAs we initiate that are still connecting
	// (MaxInNegotiationOutgoing).
	outgoingN int
	// scanned counts SAs visited by the lookups above: a test proves that
	// a handshake visits as many with 50,000 SAs as with none.
	scanned int
}

func (x *saIndexes) init() {
	x.byPeer = make(map[netip.Addr]*ikeSA)
	x.byRemoteID = make(map[string]*ikeSA)
	x.childSPIs = make(map[uint32]*childSA)
}

// saLinks are an SA's places in the index lists.
type saLinks struct {
	peerPrev, peerNext *ikeSA
	idPrev, idNext     *ikeSA
}

// listOps select one of the two lists of saLinks.
type listOps struct {
	prev, next func(*ikeSA) **ikeSA
}

var (
	peerList = listOps{func(s *ikeSA) **ikeSA { return &s.links.peerPrev }, func(s *ikeSA) **ikeSA { return &s.links.peerNext }}
	idList   = listOps{func(s *ikeSA) **ikeSA { return &s.links.idPrev }, func(s *ikeSA) **ikeSA { return &s.links.idNext }}
)

func addTo[K comparable](m map[K]*ikeSA, l listOps, k K, sa *ikeSA) {
	head := m[k]
	*l.prev(sa), *l.next(sa) = nil, head
	if head != nil {
		*l.prev(head) = sa
	}
	m[k] = sa
}

func removeFrom[K comparable](m map[K]*ikeSA, l listOps, k K, sa *ikeSA) {
	prev, next := *l.prev(sa), *l.next(sa)
	if next != nil {
		*l.prev(next) = prev
	}
	if prev != nil {
		*l.next(prev) = next
	} else if m[k] == sa {
		if next != nil {
			m[k] = next
		} else {
			delete(m, k)
		}
	}
	*l.prev(sa), *l.next(sa) = nil, nil
}

// addSA registers sa under our SPI, which must be set.
func (e *Engine) addSA(sa *ikeSA) {
	e.sas[sa.localSPI()] = sa
	sa.indexedPeer = sa.remote.Addr()
	addTo(e.idx.byPeer, peerList, sa.indexedPeer, sa)
	if sa.initiator && sa.state == stateConnecting && !sa.outgoing {
		sa.outgoing = true
		e.idx.outgoingN++
	}
}

// setRemote moves sa to the peer's new address (NAT mapping change,
// redirect).
func (sa *ikeSA) setRemote(ap netip.AddrPort) {
	sa.remote = ap
	if x := &sa.e.idx; sa.indexedPeer.IsValid() && sa.indexedPeer != ap.Addr() {
		removeFrom(x.byPeer, peerList, sa.indexedPeer, sa)
		sa.indexedPeer = ap.Addr()
		addTo(x.byPeer, peerList, sa.indexedPeer, sa)
	}
}

// indexRemoteID files sa under the peer's authenticated identity.
func (sa *ikeSA) indexRemoteID() {
	x := &sa.e.idx
	if sa.indexedID != "" {
		removeFrom(x.byRemoteID, idList, sa.indexedID, sa)
	}
	sa.indexedID = idKey(sa.remoteID)
	addTo(x.byRemoteID, idList, sa.indexedID, sa)
}

// unindex drops sa from every index (destroy).
func (sa *ikeSA) unindex() {
	x := &sa.e.idx
	if sa.indexedPeer.IsValid() {
		removeFrom(x.byPeer, peerList, sa.indexedPeer, sa)
		sa.indexedPeer = netip.Addr{}
	}
	if sa.indexedID != "" {
		removeFrom(x.byRemoteID, idList, sa.indexedID, sa)
		sa.indexedID = ""
	}
	sa.leaveOutgoing()
}

// leaveOutgoing ends the count of an SA we initiated as connecting.
func (sa *ikeSA) leaveOutgoing() {
	if sa.outgoing {
		sa.outgoing = false
		sa.e.idx.outgoingN--
	}
}

func idKey(id Identity) string {
	return string(rune(id.Type)) + string(id.Data)
}

// sameRemoteID returns the other authenticated SAs whose peer has id and
// sits at addr (INITIAL_CONTACT, RFC 7296 §2.4).
func (e *Engine) sameRemoteID(sa *ikeSA, id Identity, addr netip.Addr) []*ikeSA {
	var out []*ikeSA
	for o := e.idx.byRemoteID[idKey(id)]; o != nil; o = o.links.idNext {
		e.idx.scanned++
		if o != sa && o.remoteID.Equal(id) && o.remote.Addr() == addr {
			out = append(out, o)
		}
	}
	return out
}
