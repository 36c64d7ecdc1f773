package ike

import "hash/maphash"

// sentResponse is a response we sent, kept so that a retransmission of its
// request gets the same answer (RFC 7296 §2.1).
type sentResponse struct {
	id  uint32
	pkt []byte
}

// response returns our cached response to request id.
func (sa *ikeSA) response(id uint32) ([]byte, bool) {
	for _, r := range sa.responses {
		if r.id == id {
			return r.pkt, true
		}
	}
	return nil, false
}

// storeResponse caches our response to request id, advances nextPeerID
// past every answered request and forgets the responses that fell out of
// the window, with their fragments. The cache is a short slice, not a
// map: it holds at most WindowSize entries (usually one), and on a hub an
// idle session's cache is the IKE_AUTH response alone.
func (sa *ikeSA) storeResponse(id uint32, pkt []byte) {
	sa.responses = append(sa.responses, sentResponse{id, pkt})
	for {
		if _, ok := sa.response(sa.nextPeerID); !ok {
			break
		}
		sa.nextPeerID++
	}
	w := sa.e.cfg.WindowSize
	kept := sa.responses[:0]
	for _, r := range sa.responses {
		if r.id+w < sa.nextPeerID {
			delete(sa.frag.resp, r.id)
			continue
		}
		kept = append(kept, r)
	}
	clear(sa.responses[len(kept):])
	sa.responses = kept
}

// digestSeed keys reqDigest, unknown outside the process.
var digestSeed = maphash.MakeSeed()

// reqDigest identifies a request we answered, to recognise its
// retransmission once its SA is gone (tombstones) without keeping the
// request itself. The digest is keyed with a per-process seed, so a peer
// cannot construct a different request with the same digest; a chance
// match would only resend an old response.
func reqDigest(b []byte) uint64 { return maphash.Bytes(digestSeed, b) }
