package ike

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/esphub/esphub/ike/wire"
)

// Redirect (RFC 5685). As a gateway, a Policy that also implements
// Redirector sends peers that announced REDIRECT_SUPPORTED (or came with
// REDIRECTED_FROM) elsewhere, during IKE_SA_INIT (stateless, the cheap way)
// or once they authenticated in IKE_AUTH (IOS "crypto ikev2 redirect
// gateway {init | auth}"). As a client (Config.FollowRedirects, IOS "crypto
// ikev2 redirect client [max-redirects N]") the engine announces support,
// follows a REDIRECT whose nonce matches ours (IKE_SA_INIT) or that came
// with the gateway's verified AUTH (IKE_AUTH), says REDIRECTED_FROM to the
// next gateway, and gives up after MaxRedirects or on a loop.

// DefaultMaxRedirects caps the redirects one Initiate follows.
const DefaultMaxRedirects = 5

// Errors of a redirected Initiate.
var (
	ErrRedirectLoop     = errors.New("redirect loop: gateway already visited")
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrRedirected is the reason an IKE SA is removed after its gateway
	// redirected us in IKE_AUTH.
	ErrRedirected = errors.New("redirected to another gateway")
)

// Redirector is implemented by a Policy whose gateway redirects peers
// (RFC 5685), e.g. a cluster's load balancer. Both methods are called from
// the engine goroutine and must not block; ok=false keeps the peer here.
// The target must be an IP address a client can reach on port 500.
type Redirector interface {
	// RedirectInit is asked for each new IKE_SA_INIT request of a peer
	// that supports redirect, after cookies and admission control.
	RedirectInit(local, remote netip.AddrPort) (gw netip.Addr, ok bool)
	// RedirectAuth is asked once a peer that supports redirect has
	// authenticated, before any Child SA is made for it.
	RedirectAuth(req ProfileRequest) (gw netip.Addr, ok bool)
}

// redirectState follows one Initiate across redirects.
type redirectState struct {
	visited []netip.Addr // gateways that redirected us, in order
}

// redirectNotifies is what an initiator adds to IKE_SA_INIT: REDIRECTED_FROM
// after a redirect, REDIRECT_SUPPORTED otherwise.
func (sa *ikeSA) redirectNotifies() []wire.Payload {
	if !sa.e.cfg.FollowRedirects {
		return nil
	}
	if rs := sa.redirect; rs != nil && len(rs.visited) > 0 {
		n, err := wire.NewRedirectedFrom(wire.Gateway{Addr: rs.visited[len(rs.visited)-1]})
		if err == nil {
			return []wire.Payload{n}
		}
	}
	return []wire.Payload{notify(wire.NotifyRedirectSupported, nil)}
}

// peerSupportsRedirect reports whether an IKE_SA_INIT request announced
// redirect support (REDIRECTED_FROM implies it).
func peerSupportsRedirect(m *inMessage) bool {
	return m.notify(wire.NotifyRedirectSupported) != nil || m.notify(wire.NotifyRedirectedFrom) != nil
}

// redirectInit answers an IKE_SA_INIT request with REDIRECT when the policy
// says so. It reports whether it did.
func (e *Engine) redirectInit(m *inMessage, ni []byte, spii uint64) bool {
	r, ok := e.cfg.Policy.(Redirector)
	if !ok || !peerSupportsRedirect(m) {
		return false
	}
	gw, ok := r.RedirectInit(m.local, m.remote)
	if !ok || !gw.IsValid() {
		return false
	}
	n, err := wire.NewRedirect(wire.Gateway{Addr: gw}, ni)
	if err != nil {
		return false
	}
	e.stats.inc(CounterRedirectsSent)
	e.log.Info("ike_sa_init: redirecting peer", "peer", m.remote, "gateway", gw)
	e.initErrorTo(m.local, m.remote, spii, n)
	return true
}

// initErrorTo is initError for a decoded request.
func (e *Engine) initErrorTo(local, remote netip.AddrPort, spii uint64, ps ...wire.Payload) {
	msg := wire.Message{
		Header:   wire.Header{SPIi: spii, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagResponse},
		Payloads: ps,
	}
	if b, err := msg.Encode(); err == nil {
		e.send(local, remote, b)
	}
}

// redirectAuth returns the REDIRECT notify for an authenticated peer the
// policy sends elsewhere, or nil.
func (sa *ikeSA) redirectAuth(req ProfileRequest) *wire.Notify {
	r, ok := sa.e.cfg.Policy.(Redirector)
	if !ok || !sa.peerRedirect {
		return nil
	}
	gw, ok := r.RedirectAuth(req)
	if !ok || !gw.IsValid() {
		return nil
	}
	n, err := wire.NewRedirect(wire.Gateway{Addr: gw}, nil)
	if err != nil {
		return nil
	}
	sa.e.stats.inc(CounterRedirectsSent)
	sa.e.log.Info("ike_auth: redirecting peer", "peer", sa.remote, "id", req.RemoteID.String(), "gateway", gw)
	return n
}

// nextGateway checks a REDIRECT's target against the client's limits and
// records the gateway we leave.
func (sa *ikeSA) nextGateway(n *wire.Notify, wantNonce []byte) (netip.Addr, error) {
	e := sa.e
	gw, nonce, err := n.Redirect()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("redirect: %w", err)
	}
	if wantNonce != nil && !bytes.Equal(nonce, wantNonce) {
		e.stats.inc(CounterRedirectBadNonce)
		return netip.Addr{}, errRedirectNonce
	}
	if !gw.Addr.IsValid() {
		return netip.Addr{}, fmt.Errorf("redirect to %q: FQDN gateways are not supported, configure an address", gw.FQDN)
	}
	to := gw.Addr.Unmap()
	if to.Is4() != sa.local.Addr().Unmap().Is4() {
		return netip.Addr{}, fmt.Errorf("redirect to %v: no local address of that family", to)
	}
	if sa.redirect == nil {
		sa.redirect = &redirectState{}
	}
	rs := sa.redirect
	from := sa.remote.Addr().Unmap()
	if to == from || slices.Contains(rs.visited, to) {
		e.stats.inc(CounterRedirectLoops)
		return netip.Addr{}, fmt.Errorf("redirect to %v: %w", to, ErrRedirectLoop)
	}
	limit := e.cfg.MaxRedirects
	if limit <= 0 {
		limit = DefaultMaxRedirects
	}
	if len(rs.visited) >= limit {
		e.stats.inc(CounterRedirectLoops)
		return netip.Addr{}, fmt.Errorf("redirect to %v: %w (max-redirects %d)", to, ErrTooManyRedirects, limit)
	}
	rs.visited = append(rs.visited, from)
	e.stats.inc(CounterRedirectsFollowed)
	e.log.Info("ike: following redirect", "from", from, "to", to)
	return to, nil
}

// errRedirectNonce marks a REDIRECT whose nonce is not ours: dropped, and
// the request stands.
var errRedirectNonce = errors.New("redirect with a foreign nonce")

// followInitRedirect handles REDIRECT in an IKE_SA_INIT response: the same
// exchange starts over with the new gateway.
func (t *initTask) followInitRedirect(sa *ikeSA, n *wire.Notify) (bool, error) {
	if !sa.e.cfg.FollowRedirects {
		return false, fmt.Errorf("ike_sa_init: gateway redirects us but redirect client is not configured")
	}
	to, err := sa.nextGateway(n, sa.hs.ni)
	if errors.Is(err, errRedirectNonce) {
		return true, nil // not an answer to our request: send it again
	}
	if err != nil {
		return false, fmt.Errorf("ike_sa_init: %w", err)
	}
	sa.setRemote(netip.AddrPortFrom(to, wire.PortIKE))
	sa.hs.ni, sa.spir, t.cookie, t.rounds = nil, 0, nil, 0
	return true, nil
}

// followAuthRedirect handles REDIRECT in an IKE_AUTH response whose AUTH
// verified: delete this SA (without waiting for the answer) and start over
// with the new gateway, handing the Initiate's completion to the new SA.
func (t *authTask) followAuthRedirect(sa *ikeSA, n *wire.Notify) error {
	e := sa.e
	if !e.cfg.FollowRedirects {
		return fmt.Errorf("ike_auth: gateway redirects us but redirect client is not configured")
	}
	to, err := sa.nextGateway(n, nil)
	if err != nil {
		return fmt.Errorf("ike_auth: %w", err)
	}
	if pkt, err := sa.encode(wire.ExchangeInformational, sa.nextReqID, false, []wire.Payload{wire.DeleteIKE()}); err == nil {
		sa.nextReqID++
		sa.sendPacket(pkt, nil)
	}
	spi, err := e.newSPI()
	if err != nil {
		return err
	}
	next := e.newIKESA(true, sa.local, netip.AddrPortFrom(to, wire.PortIKE))
	next.profile, next.spii, next.redirect = sa.profile, spi, sa.redirect
	e.addSA(next)
	sa.redirectedTo = next
	next.queueTask(&initTask{done: t.done})
	t.done = nil
	sa.destroy(ErrRedirected)
	return nil
}
