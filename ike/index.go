package ike

import "net/netip"

// Indexes of the engine's SAs, so that what an IKE_AUTH asks of them
// (INITIAL_CONTACT, a fresh Child SA SPI, whether we already have an SA
// with a peer) costs the same with 50 or 50,000 sessions. All are owned by
// the Run goroutine and kept up to date by addSA, setRemote, indexRemoteID
// and destroy (IKE SAs) and makeChild and remove (Child SAs).
type saIndexes struct {
	// byPeer holds every IKE SA in Engine.sas by its peer's address.
	byPeer map[netip.Addr]map[*ikeSA]struct{}
	// byRemoteID holds every authenticated IKE SA by the peer's identity.
	byRemoteID map[string]map[*ikeSA]struct{}
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
	x.byPeer = make(map[netip.Addr]map[*ikeSA]struct{})
	x.byRemoteID = make(map[string]map[*ikeSA]struct{})
	x.childSPIs = make(map[uint32]*childSA)
}

func addTo[K comparable](m map[K]map[*ikeSA]struct{}, k K, sa *ikeSA) {
	s := m[k]
	if s == nil {
		s = make(map[*ikeSA]struct{}, 1)
		m[k] = s
	}
	s[sa] = struct{}{}
}

func removeFrom[K comparable](m map[K]map[*ikeSA]struct{}, k K, sa *ikeSA) {
	if s := m[k]; s != nil {
		delete(s, sa)
		if len(s) == 0 {
			delete(m, k)
		}
	}
}

// addSA registers sa under our SPI, which must be set.
func (e *Engine) addSA(sa *ikeSA) {
	e.sas[sa.localSPI()] = sa
	sa.indexedPeer = sa.remote.Addr()
	addTo(e.idx.byPeer, sa.indexedPeer, sa)
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
		removeFrom(x.byPeer, sa.indexedPeer, sa)
		sa.indexedPeer = ap.Addr()
		addTo(x.byPeer, sa.indexedPeer, sa)
	}
}

// indexRemoteID files sa under the peer's authenticated identity.
func (sa *ikeSA) indexRemoteID() {
	x := &sa.e.idx
	if sa.indexedID != "" {
		removeFrom(x.byRemoteID, sa.indexedID, sa)
	}
	sa.indexedID = idKey(sa.remoteID)
	addTo(x.byRemoteID, sa.indexedID, sa)
}

// unindex drops sa from every index (destroy).
func (sa *ikeSA) unindex() {
	x := &sa.e.idx
	if sa.indexedPeer.IsValid() {
		removeFrom(x.byPeer, sa.indexedPeer, sa)
		sa.indexedPeer = netip.Addr{}
	}
	if sa.indexedID != "" {
		removeFrom(x.byRemoteID, sa.indexedID, sa)
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
	for o := range e.idx.byRemoteID[idKey(id)] {
		e.idx.scanned++
		if o != sa && o.remoteID.Equal(id) && o.remote.Addr() == addr {
			out = append(out, o)
		}
	}
	return out
}
