package ike

import (
	"errors"
	"fmt"
	"time"

	"github.com/esphub/esphub/ike/wire"
)

// IKE fragmentation (RFC 7383). Both peers announce
// IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT; from IKE_AUTH on, a protected
// message longer than the fragmentation MTU allows is sent as a set of SKF
// payloads, each encrypted and authenticated on its own, so that no IP
// fragmentation is needed. Received fragments are verified one by one and
// reassembled per message ID within limits on count, bytes and time.

// Default IKE fragmentation MTUs (IOS "crypto ikev2 fragmentation mtu"):
// the size of the whole IP packet carrying an IKE message.
const (
	DefaultFragmentMTU4 = 576
	DefaultFragmentMTU6 = 1280
	// DefaultFragmentTimeout is how long a partly received message is kept.
	DefaultFragmentTimeout = 30 * time.Second
	// DefaultMaxFragments bounds Total Fragments of a received message.
	DefaultMaxFragments = 64
)

// fragState is an IKE SA's fragmentation state. Owned by the Run goroutine.
type fragState struct {
	enabled bool                    // both peers announced support
	rx      map[fragKey]*reassembly // messages being received
	resp    map[uint32][][]byte     // fragmented responses by message ID, beside ikeSA.responses
	sent    uint64                  // fragments sent on this SA
	rcvd    uint64                  // fragments received on this SA
}

type fragKey struct {
	id       uint32
	response bool
}

type reassembly struct {
	r     wire.Reassembler
	timer Timer
}

// fragmentationSupported returns the IKEV2_FRAGMENTATION_SUPPORTED notify
// when fragmentation is configured, for IKE_SA_INIT.
func (e *Engine) fragmentationSupported() []wire.Payload {
	if !e.cfg.Fragmentation {
		return nil
	}
	return []wire.Payload{notify(wire.NotifyIKEv2FragmentationSupported, nil)}
}

// negotiateFragmentation records whether both sides support fragmentation,
// from the peer's IKE_SA_INIT message.
func (sa *ikeSA) negotiateFragmentation(m *inMessage) {
	sa.frag.enabled = sa.e.cfg.Fragmentation && m.notify(wire.NotifyIKEv2FragmentationSupported) != nil
}

// fragmentMaxLen is the largest IKE message (without IP and UDP headers or
// the non-ESP marker) that fits the fragmentation MTU on this SA's path.
func (sa *ikeSA) fragmentMaxLen() int {
	mtu, ipHdr := sa.e.cfg.FragmentMTU, 20
	if sa.remote.Addr().Is6() && !sa.remote.Addr().Is4In6() {
		ipHdr = 40
		if mtu == 0 {
			mtu = DefaultFragmentMTU6
		}
	}
	if mtu == 0 {
		mtu = DefaultFragmentMTU4
	}
	n := mtu - ipHdr - 8
	if sa.local.Port() != 500 && sa.remote.Port() != 500 {
		n -= 4 // non-ESP marker on the NAT-T port
	}
	return n
}

// fragmentOut returns the fragments to send instead of pkt, the encoding of
// payloads ps, or nil when pkt goes as it is.
func (sa *ikeSA) fragmentOut(exch wire.ExchangeType, id uint32, response bool, ps []wire.Payload, pkt []byte) ([][]byte, error) {
	if !sa.frag.enabled || exch == wire.ExchangeIKESAInit || len(ps) == 0 || len(pkt) <= sa.fragmentMaxLen() {
		return nil, nil
	}
	out, err := sa.outCipher()
	if err != nil {
		return nil, err
	}
	frags, err := wire.AppendFragments(sa.header(exch, id, response), ps, out, sa.e.rand, sa.fragmentMaxLen())
	if err != nil {
		return nil, fmt.Errorf("fragment %s: %w", exch, err)
	}
	return frags, nil
}

// sendPacket sends pkt, or its fragments when there are any.
func (sa *ikeSA) sendPacket(pkt []byte, frags [][]byte) {
	if frags == nil {
		sa.e.send(sa.local, sa.remote, pkt)
		return
	}
	for _, f := range frags {
		sa.e.stats.inc(CounterFragmentsSent)
		sa.frag.sent++
		sa.e.send(sa.local, sa.remote, f)
	}
}

// sendResponse sends the cached response to request id, fragmented if it
// was.
func (sa *ikeSA) sendResponse(id uint32, pkt []byte) {
	sa.sendPacket(pkt, sa.frag.resp[id])
}

// storeResponseFragments remembers the fragments of response id.
func (sa *ikeSA) storeResponseFragments(id uint32, frags [][]byte) {
	if frags == nil {
		return
	}
	if sa.frag.resp == nil {
		sa.frag.resp = make(map[uint32][][]byte)
	}
	sa.frag.resp[id] = frags
}

// handleFragment verifies one SKF payload of message in and, once every
// fragment of the message is there, processes the reassembled message as if
// it had come whole.
func (sa *ikeSA) handleFragment(in *inMessage, f *wire.EncryptedFragment) {
	e := sa.e
	response := in.hdr.IsResponse()
	id := in.hdr.MessageID
	skIn, err := sa.inCipher()
	if !sa.frag.enabled || err != nil {
		e.stats.inc(CounterDropFragment)
		return
	}
	if response {
		if p := sa.inflight[id]; p == nil || p.task.exchange() != in.hdr.Exchange {
			e.stats.inc(CounterDropUnexpected)
			return
		}
	} else {
		if cached, ok := sa.response(id); ok {
			// RFC 7383 §2.6.1: a retransmitted request gets the response
			// again once, on its first fragment; the others are ignored.
			if f.Number != 1 {
				return
			}
			if _, err := skIn.Open(nil, f.AAD, f.Body); err != nil {
				e.stats.inc(CounterDropBadICV)
				return
			}
			e.stats.inc(CounterDupRequests)
			sa.sendResponse(id, cached)
			return
		}
		if id < sa.nextPeerID {
			e.stats.inc(CounterDropReplay)
			return
		}
		if id-sa.nextPeerID >= e.cfg.WindowSize {
			e.stats.inc(CounterDropWindow)
			return
		}
	}
	// Only authenticated fragments may influence reassembly.
	pt, err := skIn.Open(nil, f.AAD, f.Body)
	if err != nil {
		e.stats.inc(CounterDropBadICV)
		return
	}
	e.stats.inc(CounterFragmentsReceived)
	sa.frag.rcvd++
	key := fragKey{id, response}
	ra := sa.frag.rx[key]
	if ra == nil {
		if sa.frag.rx == nil {
			sa.frag.rx = make(map[fragKey]*reassembly)
		}
		ra = &reassembly{}
		ra.r.MaxFragments = e.cfg.MaxFragments
		ra.r.MaxBytes = e.cfg.MaxMessageSize
		sa.frag.rx[key] = ra
		ra.timer = e.afterFunc(e.cfg.FragmentTimeout, func() {
			if sa.frag.rx[key] == ra && sa.state != stateDead {
				delete(sa.frag.rx, key)
				e.stats.inc(CounterFragmentTimeouts)
			}
		})
	}
	done, err := ra.r.Add(f, pt)
	switch {
	case errors.Is(err, wire.ErrFragmentLimit):
		e.stats.inc(CounterDropFragmentLimit)
		sa.dropReassembly(key)
		return
	case err != nil:
		e.stats.inc(CounterDropFragment)
		return
	case !done:
		return
	}
	ps, err := ra.r.Payloads()
	sa.dropReassembly(key)
	if err == nil {
		err = wire.ValidateInner(in.hdr.Exchange, response, ps)
	}
	if err != nil {
		e.stats.inc(CounterDropMalformed)
		var we *wire.Error
		if errors.As(err, &we) && !response {
			sa.answerError(in, we)
		}
		return
	}
	in.payloads = ps
	sa.lastRx = e.clock.Now()
	if response {
		sa.handleResponse(in)
	} else {
		sa.handleRequest(in)
	}
}

func (sa *ikeSA) dropReassembly(key fragKey) {
	if ra := sa.frag.rx[key]; ra != nil {
		if ra.timer != nil {
			ra.timer.Stop()
		}
		delete(sa.frag.rx, key)
	}
}

// stopFragmentTimers stops the reassembly timers of a removed SA.
func (sa *ikeSA) stopFragmentTimers() {
	for k := range sa.frag.rx {
		sa.dropReassembly(k)
	}
}
