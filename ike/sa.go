package ike

import (
	"crypto/x509"
	"errors"
	"net/netip"
	"time"

	"github.com/esphub/esphub/ike/sig"
	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
	"github.com/esphub/esphub/pki"
)

// saState is an IKE SA's life cycle.
type saState uint8

const (
	stateConnecting  saState = iota // IKE_SA_INIT / IKE_AUTH in progress
	stateEstablished                // authenticated
	stateRekeyed                    // replaced by a rekey; only its Delete remains
	stateDeleting                   // our Delete is outstanding
	stateDead                       // removed
)

func (s saState) String() string {
	switch s {
	case stateConnecting:
		return "IN-NEG"
	case stateEstablished:
		return "READY"
	case stateRekeyed:
		return "REKEYED"
	case stateDeleting:
		return "DELETE"
	}
	return "DEAD"
}

// ikeSA is one IKE SA. Every field is owned by the Engine's Run goroutine.
type ikeSA struct {
	e         *Engine
	initiator bool // we are the original initiator (I flag)
	spii      uint64
	spir      uint64
	local     netip.AddrPort
	remote    netip.AddrPort
	state     saState
	created   time.Time
	profile   *Profile

	prop suite.Proposal
	prf  suite.PRF
	keys saKeys
	// skOut and skIn protect our and the peer's SK payloads. They are
	// built from keys on demand (outCipher, inCipher) and released while
	// no exchange is under way (releaseCiphers): the expanded AES-GCM
	// state is over half a kilobyte each, kept for every idle session.
	skOut suite.SKCipher
	skIn  suite.SKCipher
	hs    *handshake // until IKE_AUTH completes (forgetAuthState)

	localID, remoteID Identity
	peerVendorIDs     [][]byte
	localVendorIDs    [][]byte // the Vendor IDs we sent in IKE_SA_INIT
	// localCP and peerCP are the configuration payloads each side sent in
	// IKE_AUTH (cp.go), deep copies.
	localCP, peerCP *wire.Configuration
	natLocal        bool // we are behind a NAT (dest hash mismatch)
	natRemote       bool // peer is behind a NAT (source hash mismatch)
	lastRx          time.Time
	// lastInbound and lastOutbound are the latest Child SA traffic the
	// caller reported (ReportTraffic), for on-demand DPD.
	lastInbound, lastOutbound time.Time

	children map[uint32]*childSA // by inbound SPI
	initKey  halfOpenKey         // responder: the IKE_SA_INIT that created it

	// Initiator side of the window.
	nextReqID  uint32
	peerWindow uint32
	inflight   map[uint32]*pendingReq
	queue      []task

	// Responder side of the window.
	nextPeerID uint32         // lowest request ID not yet answered
	responses  []sentResponse // encoded responses within the window (responses.go)
	frag       fragState      // RFC 7383 (frag.go)

	// Redirect (redirect.go): the initiator's redirect history, whether
	// the peer announced redirect support (responder), and the SA that
	// replaced this one after an IKE_AUTH redirect (initiator).
	// Certificate authentication (certauth.go): the peer's RFC 7427
	// hashes and CERTREQ CA hashes, and its validated certificate.
	peerHashes  []sig.Hash
	peerCertReq []byte
	peerCert    *pki.PeerCertificate

	redirect     *redirectState
	peerRedirect bool
	redirectedTo *ikeSA

	timers []Timer // lifetime
	// halfOpenTimer (responder) ends an SA that IKE_AUTH does not
	// complete; stopped and dropped once it does.
	halfOpenTimer Timer
	// lifeTimer is the soft rekey, then the hard expiry (startTimers).
	lifeTimer Timer
	dpdTimer  Timer // periodic liveness check
	kaTimer   Timer // periodic NAT keepalive
	onUp      []func(error)

	// successor is the IKE SA that replaced this one (after a rekey); its
	// Child SAs moved there.
	successor *ikeSA
	// peerIKERekey is the peer's rekey of this SA that crossed ours.
	peerIKERekey *ikeRekeyRecord
	// rekeyOf is set on the SA a peer's crossing rekey created until the
	// collision is settled: it carries no Child SAs yet, which are still
	// on rekeyOf.
	rekeyOf *ikeSA

	// Index bookkeeping (index.go): the peer address and identity the SA
	// is filed under, and whether it counts as an outgoing SA connecting.
	indexedPeer netip.Addr
	indexedID   string
	outgoing    bool
	links       saLinks

	// The last request we answered (its digest, reqDigest) and our
	// answer, kept after the SA is gone so a retransmitted Delete still
	// gets its response.
	lastReq  uint64
	lastResp []byte
}

// tombstone remembers the last exchange of a removed SA.
type tombstone struct {
	req  uint64 // reqDigest of the request
	resp []byte
}

// pendingReq is an outstanding request of ours.
type pendingReq struct {
	id     uint32
	task   task
	packet []byte
	frags  [][]byte // packet's fragments, sent instead of it when set
	tries  int
	// maxTries and fixedWait are the task's retransmission schedule
	// (retransmitPolicy, dpd.go).
	maxTries  int
	fixedWait bool
	timer     Timer
	wait      time.Duration
}

func (e *Engine) newIKESA(initiator bool, local, remote netip.AddrPort) *ikeSA {
	return &ikeSA{
		e:          e,
		initiator:  initiator,
		local:      local,
		remote:     remote,
		created:    e.clock.Now(),
		lastRx:     e.clock.Now(),
		hs:         new(handshake),
		children:   make(map[uint32]*childSA),
		peerWindow: 1,
		inflight:   make(map[uint32]*pendingReq),
	}
}

// localSPI and remoteSPI are ours and the peer's.
func (sa *ikeSA) localSPI() uint64 {
	if sa.initiator {
		return sa.spii
	}
	return sa.spir
}

func (sa *ikeSA) remoteSPI() uint64 {
	if sa.initiator {
		return sa.spir
	}
	return sa.spii
}

// IKESAInfo is a snapshot of an IKE SA for show commands and events.
type IKESAInfo struct {
	LocalSPI, RemoteSPI uint64
	Initiator           bool
	State               string
	Local, Remote       netip.AddrPort
	LocalID, RemoteID   Identity
	Profile             string
	Proposal            suite.Proposal
	NATLocal, NATRemote bool
	Created             time.Time
	VendorIDs           [][]byte
	// LocalVendorIDs are the Vendor IDs we sent in IKE_SA_INIT.
	LocalVendorIDs [][]byte
	// Message IDs and windows, as "show crypto ikev2 sa detailed" prints them.
	LocalNextMsgID, RemoteNextMsgID uint32
	LocalWindow, RemoteWindow       uint32
	LocalReqQueued                  int
	Children                        []ChildSA
	// LocalConfig and PeerConfig are the configuration payloads each side
	// sent in IKE_AUTH (nil when none): for an initiator, its CFG_REQUEST and
	// the responder's CFG_REPLY; for a responder, the reverse.
	LocalConfig, PeerConfig *wire.Configuration
	// Fragmentation is true when both sides negotiated RFC 7383
	// fragmentation ("IETF Std Fragmentation enabled"); FragmentMTU is
	// the largest IKE message then sent whole, without IP/UDP headers.
	Fragmentation bool
	FragmentMTU   int
	// PeerCertSubject and PeerCertIssuer are the DNs of the certificate
	// the peer authenticated with (empty for PSK); PeerCertNotAfter is
	// the earliest expiry along its chain.
	PeerCertSubject, PeerCertIssuer string
	PeerCertNotAfter                time.Time
	// DPD is the profile's liveness check interval (zero: off).
	DPD time.Duration
	// LocalAuth and PeerAuth say how each side authenticated, as IOS's
	// "Auth sign" and "Auth verify": "PSK", or the certificate key's
	// algorithm ("RSA", "ECDSA", "EdDSA"); empty until established.
	LocalAuth, PeerAuth string
}

func (sa *ikeSA) info() IKESAInfo {
	in := IKESAInfo{
		LocalSPI: sa.localSPI(), RemoteSPI: sa.remoteSPI(), Initiator: sa.initiator,
		State: sa.state.String(), Local: sa.local, Remote: sa.remote,
		LocalID: sa.localID, RemoteID: sa.remoteID, Proposal: sa.prop,
		NATLocal: sa.natLocal, NATRemote: sa.natRemote, Created: sa.created,
		VendorIDs: sa.peerVendorIDs, LocalVendorIDs: sa.localVendorIDs,
		PeerConfig: sa.peerCP, LocalConfig: sa.localCP,
		LocalNextMsgID: sa.nextReqID, RemoteNextMsgID: sa.nextPeerID,
		LocalWindow: sa.e.cfg.WindowSize, RemoteWindow: sa.peerWindow,
		LocalReqQueued: len(sa.queue),
	}
	if sa.profile != nil {
		in.Profile = sa.profile.Name
		in.DPD = sa.profile.DPDInterval
		if sa.state == stateEstablished {
			var local, peer *x509.Certificate
			if c := sa.profile.LocalCredential; c != nil {
				local = c.Leaf()
			}
			if sa.peerCert != nil {
				peer = sa.peerCert.Leaf
			}
			in.LocalAuth, in.PeerAuth = authName(local), authName(peer)
		}
	}
	if sa.frag.enabled {
		in.Fragmentation, in.FragmentMTU = true, sa.fragmentMaxLen()
	}
	if pc := sa.peerCert; pc != nil {
		in.PeerCertSubject, in.PeerCertIssuer, in.PeerCertNotAfter = pc.Subject, pc.Issuer, pc.NotAfter
	}
	for _, c := range sa.children {
		if c.state == childInstalled || c.state == childRekeying {
			in.Children = append(in.Children, *c.public())
		}
	}
	return in
}

// udpEncap reports whether ESP must travel in UDP (RFC 3948).
func (sa *ikeSA) udpEncap() bool { return sa.natLocal || sa.natRemote }

func (sa *ikeSA) addTimer(t Timer) { sa.timers = append(sa.timers, t) }

func (sa *ikeSA) stopTimers() {
	for _, t := range sa.timers {
		t.Stop()
	}
	sa.timers = nil
	for _, t := range []Timer{sa.dpdTimer, sa.kaTimer, sa.halfOpenTimer, sa.lifeTimer} {
		if t != nil {
			t.Stop()
		}
	}
	for _, p := range sa.inflight {
		if p.timer != nil {
			p.timer.Stop()
		}
	}
	for _, c := range sa.children {
		c.stopTimers()
	}
}

// failTasks fails every queued and outstanding task with err.
func (sa *ikeSA) failTasks(err error) {
	for id, p := range sa.inflight {
		if p.timer != nil {
			p.timer.Stop()
		}
		delete(sa.inflight, id)
		p.task.fail(sa, err)
	}
	q := sa.queue
	sa.queue = nil
	for _, t := range q {
		t.fail(sa, err)
	}
	cbs := sa.onUp
	sa.onUp = nil
	for _, cb := range cbs {
		cb(err)
	}
}

// established marks the SA up and tells whoever waits.
func (sa *ikeSA) established() {
	sa.state = stateEstablished
	if sa.halfOpenTimer != nil {
		sa.halfOpenTimer.Stop()
		sa.halfOpenTimer = nil
	}
	sa.leaveOutgoing()
	sa.indexRemoteID()
	cbs := sa.onUp
	sa.onUp = nil
	for _, cb := range cbs {
		cb(nil)
	}
}

// destroy removes the SA and its Child SAs locally: timers stop, the
// installer forgets the Child SAs, waiting callers get reason, and an
// ike-down event is emitted (unless the SA was replaced by a rekey, which
// hands its children on first).
func (sa *ikeSA) destroy(reason error) {
	if sa.state == stateDead {
		return
	}
	e := sa.e
	wasUp := sa.state == stateEstablished || sa.state == stateDeleting
	wasConnecting := sa.state == stateConnecting
	rekeyed := sa.state == stateRekeyed
	sa.stopTimers()
	sa.stopFragmentTimers()
	for _, c := range sa.children {
		c.remove(reason)
	}
	sa.state = stateDead
	if reason == nil {
		reason = ErrDeleted
	}
	sa.failTasks(reason)
	sa.unindex()
	if e.sas[sa.localSPI()] == sa {
		delete(e.sas, sa.localSPI())
		if sa.lastResp != nil {
			spi := sa.localSPI()
			tb := &tombstone{req: sa.lastReq, resp: sa.lastResp}
			e.tombstones[spi] = tb
			e.afterFunc(e.retransmitSpan(), func() {
				if e.tombstones[spi] == tb {
					delete(e.tombstones, spi)
				}
			})
		}
	}
	if sa.initKey.spii != 0 {
		if e.halfOpen[sa.initKey] == sa {
			delete(e.halfOpen, sa.initKey)
		}
		if wasConnecting {
			e.leaveHalfOpen(sa)
		}
	}
	if wasUp || rekeyed {
		e.stats.inc(CounterIKEDown)
		if !rekeyed {
			ev := Event{Kind: EventIKEDown, IKE: sa.info()}
			if !errors.Is(reason, ErrDeleted) {
				ev.Reason = reason
			}
			e.emit(ev)
		}
	} else {
		e.stats.inc(CounterIKEFailed)
	}
	if e.debugOn() {
		e.log.Debug("ike sa removed", "spi", hexSPI(sa.localSPI()), "peer", sa.remote, "reason", reason)
	}
}

// installKeys sets the SA's keys and builds the ciphers our and the
// peer's messages use (which checks the keys against the proposal).
func (sa *ikeSA) installKeys(keys suite.IKEKeys) error {
	sa.keys, sa.skOut, sa.skIn = newSAKeys(keys), nil, nil
	if sa.hs != nil {
		sa.hs.skpi, sa.hs.skpr = keys.SKpi, keys.SKpr
	} else {
		clear(keys.SKpi)
		clear(keys.SKpr)
	}
	if _, err := sa.outCipher(); err != nil {
		return err
	}
	_, err := sa.inCipher()
	return err
}

// hasKeys reports whether the SA's keys are installed (after
// IKE_SA_INIT).
func (sa *ikeSA) hasKeys() bool { return sa.keys.buf != nil }

// outCipher returns the cipher of our SK payloads, building it from the
// keys if it was released.
func (sa *ikeSA) outCipher() (suite.SKCipher, error) {
	if sa.skOut == nil {
		if !sa.hasKeys() {
			return nil, errors.New("ike sa has no keys yet")
		}
		enc, integ := sa.keys.ske(sa.initiator), sa.keys.ska(sa.initiator)
		c, err := suite.NewSKCipher(sa.prop, enc, integ)
		if err != nil {
			return nil, err
		}
		sa.skOut = c
	}
	return sa.skOut, nil
}

// inCipher returns the cipher of the peer's SK payloads, building it from
// the keys if it was released.
func (sa *ikeSA) inCipher() (suite.SKCipher, error) {
	if sa.skIn == nil {
		if !sa.hasKeys() {
			return nil, errors.New("ike sa has no keys yet")
		}
		enc, integ := sa.keys.ske(!sa.initiator), sa.keys.ska(!sa.initiator)
		c, err := suite.NewSKCipher(sa.prop, enc, integ)
		if err != nil {
			return nil, err
		}
		sa.skIn = c
	}
	return sa.skIn, nil
}

// releaseCiphers drops the SA's ciphers once no exchange of ours is
// outstanding and no fragmented message is being reassembled; the next
// message builds them again from the keys (two AES key expansions, well
// under a microsecond, against some 1.2 KB per idle session).
func (sa *ikeSA) releaseCiphers() {
	if len(sa.inflight) == 0 && len(sa.frag.rx) == 0 {
		sa.skOut, sa.skIn = nil, nil
	}
}

// skp returns SK_pi or SK_pr for the given side.
func (sa *ikeSA) skp(initiatorSide bool) []byte {
	if initiatorSide {
		return sa.hs.skpi
	}
	return sa.hs.skpr
}

// hexSPI formats an SPI as IOS does (16 hex digits).
func hexSPI(s uint64) string {
	const hexd = "0123456789ABCDEF"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = hexd[s&0xf]
		s >>= 4
	}
	return string(b[:])
}

// childByOutbound finds a live Child SA by the peer's SPI, on this IKE SA or,
// once it has been rekeyed, on its successors: a Delete or REKEY_SA sent on
// the old IKE SA may name a Child SA that already moved.
func (sa *ikeSA) childByOutbound(spi uint32) *childSA {
	start := sa
	if sa.rekeyOf != nil {
		// A peer that concluded its rekey may name a Child SA on the new
		// SA before we know whether it carries them.
		start = sa.rekeyOf
	}
	for s := start; s != nil; s = s.successor {
		for _, c := range s.children {
			if c.outSPI == spi && c.state != childRemoved {
				return c
			}
		}
	}
	return nil
}

// handshake is what IKE_SA_INIT leaves for IKE_AUTH and nothing after:
// the messages and nonces the AUTH payloads sign (RFC 7296 §2.15) and
// SK_pi/SK_pr. An SA drops it once established (forgetAuthState); SAs a
// rekey creates never have one.
type handshake struct {
	ni, nr     []byte
	initReq    []byte // IKE_SA_INIT request as sent/received
	initResp   []byte // IKE_SA_INIT response
	skpi, skpr []byte
}

// saKeys are the keys an IKE SA uses after IKE_AUTH in one buffer, SK_d |
// SK_ai | SK_ar | SK_ei | SK_er, rather than five slice headers (120
// bytes) per SA.
type saKeys struct {
	buf     []byte
	d, a, e uint8 // lengths of SK_d, of each SK_a, of each SK_e
}

// newSAKeys copies k's keys but SK_pi and SK_pr, and wipes the copies'
// sources.
func newSAKeys(k suite.IKEKeys) saKeys {
	buf := make([]byte, 0, len(k.SKd)+2*len(k.SKai)+2*len(k.SKei))
	for _, b := range [][]byte{k.SKd, k.SKai, k.SKar, k.SKei, k.SKer} {
		buf = append(buf, b...)
		clear(b)
	}
	return saKeys{buf: buf, d: uint8(len(k.SKd)), a: uint8(len(k.SKai)), e: uint8(len(k.SKei))}
}

// skd returns SK_d.
func (k saKeys) skd() []byte { return k.buf[:k.d:k.d] }

// ska returns SK_ai (initiator) or SK_ar.
func (k saKeys) ska(initiator bool) []byte {
	o := int(k.d)
	if !initiator {
		o += int(k.a)
	}
	return k.buf[o : o+int(k.a) : o+int(k.a)]
}

// ske returns SK_ei (initiator) or SK_er.
func (k saKeys) ske(initiator bool) []byte {
	o := int(k.d) + 2*int(k.a)
	if !initiator {
		o += int(k.e)
	}
	return k.buf[o : o+int(k.e) : o+int(k.e)]
}
