package nhrp

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/esphub/esphub/nhrp/wire"
)

type shortcutState uint8

const (
	stResolving  shortcutState = iota // request sent, waiting for the reply
	stWaitTunnel                      // reply received, spoke-to-spoke tunnel being built
	stComplete                        // routes installed
	stNegative                        // the destination is unreachable via NHRP
)

// shortcut is the requester's state for one resolved destination (keyed by
// the target's host prefix).
type shortcut struct {
	key    netip.Prefix
	target netip.Addr
	state  shortcutState
	reqID  uint32
	req    *wire.Packet // the request, resent unchanged on retries
	via    string       // tunnel the request goes out on
	retry  time.Duration
	timers []Timer // retry, give-up, refresh: all stopped when dropped

	// From the reply.
	prefix      netip.Prefix
	peerProto   netip.Addr
	peerNBMA    netip.Addr
	claimedNBMA netip.Addr
	hold        time.Duration
	label       uint32 // the reply's VPN label for prefix (0: none)
	tunnel      string
	entries     []netip.Prefix
	lastUsage   uint64
	refreshing  bool
}

func (s *shortcut) stopTimers() {
	for _, t := range s.timers {
		t.Stop()
	}
	s.timers = s.timers[:0]
}

// pendingReply is the exit spoke's answer waiting for the spoke-to-spoke
// tunnel to the requester.
type pendingReply struct {
	req       *wire.Packet
	served    netip.Prefix
	peerProto netip.Addr
	peerNBMA  netip.Addr
	claimed   netip.Addr
	self      *tunnelState // the tunnel the request came in on (for our NBMA)
	tunnel    string       // set once sent
	timer     Timer
}

func (pr *pendingReply) stop() {
	if pr.timer != nil {
		pr.timer.Stop()
	}
}

func (n *Node) handleTrafficIndication(t *tunnelState, p *wire.Packet) {
	if !n.cfg.Shortcut {
		n.drop(DropNoShortcut)
		return
	}
	if p.TrafficCode() != wire.TrafficCodeRedirect {
		n.drop(DropBadIndication)
		return
	}
	_, target, ok := wire.InnerAddrs(p.Payload)
	if !ok || (protoTypeOf(target) != p.ProType) {
		n.drop(DropBadIndication)
		return
	}
	n.initiate(target, t)
}

// initiate starts resolving target, the destination of traffic that the
// hub redirected, unless a resolution or shortcut for it already exists.
func (n *Node) initiate(target netip.Addr, from *tunnelState) {
	key := netip.PrefixFrom(target, target.BitLen())
	if s := n.shorts[key]; s != nil {
		return // in progress, built, or negative: nothing new to do
	}
	r, ok := n.deps.RIB.Lookup(target)
	if !ok || !n.viaOverlay(r) || r.Shortcut {
		// Not routed into the overlay, or already on a shortcut.
		n.drop(DropNoRoute)
		return
	}
	via := n.tunnels[r.Tunnel]
	if via == nil {
		via = from
	}
	v4 := target.Is4()
	self := n.selfProto(via, v4)
	if !self.IsValid() || !via.LocalNBMA.IsValid() {
		n.drop(DropNoRoute)
		return
	}
	s := &shortcut{key: key, target: target, state: stResolving, via: via.Name, retry: n.cfg.ResolutionRetry}
	s.req = n.buildRequest(via, self, target)
	s.reqID = s.req.RequestID
	n.shorts[key] = s
	n.byReqID[s.reqID] = s
	// The temporary entry an operator sees while the resolution runs; the
	// reply replaces it (the seeds' "temporary cache entry via the hub").
	n.setEntry(Entry{Prefix: key, Tunnel: via.Name, Type: TypeIncomplete}, n.cfg.ResolutionTimeout, false)
	s.entries = []netip.Prefix{key}
	n.log.Debug("nhrp: resolving", "target", target, "via", via.Name)
	n.sendRequest(s)
	s.timers = append(s.timers, n.afterFunc(n.cfg.ResolutionTimeout, func() {
		if n.shorts[key] == s && s.state == stResolving {
			n.ctr.ResolutionTimeouts.Add(1)
			n.dropShortcut(s)
		}
	}))
}

func (n *Node) buildRequest(via *tunnelState, self, target netip.Addr) *wire.Packet {
	p := &wire.Packet{
		AFN:       afnOf(via.LocalNBMA),
		ProType:   protoTypeOf(target),
		HopCount:  wire.DefaultHopCount,
		Type:      wire.TypeResolutionRequest,
		Flags:     wire.FlagResQ | wire.FlagResA | wire.FlagResS | wire.FlagNAT,
		RequestID: n.newRequestID(),
		SrcNBMA:   via.LocalNBMA,
		SrcProto:  self,
		DstProto:  target,
		CIEs:      []wire.CIE{{PrefixLen: 0xff, MTU: n.cfg.MTU, HoldTime: holdSeconds(n.cfg)}},
	}
	nat := wire.Extension{Type: wire.ExtNATAddress}
	if m := via.LocalNBMAMapped; m.IsValid() && m != via.LocalNBMA && m.Is4() == via.LocalNBMA.Is4() {
		nat.CIEs = []wire.CIE{{PrefixLen: hostBits(self), NBMA: m, Proto: self}}
	}
	p.Extensions = []wire.Extension{
		{Type: wire.ExtForwardTransitNHS, Compulsory: true},
		{Type: wire.ExtReverseTransitNHS, Compulsory: true},
		{Type: wire.ExtResponderAddress, Compulsory: true},
		nat,
		{Type: wire.ExtEnd, Compulsory: true},
	}
	return p
}

// sendRequest sends (or resends, with the same request ID) s's request and
// arms the next retry with exponential back-off.
func (n *Node) sendRequest(s *shortcut) {
	req := *s.req
	req.Extensions = append([]wire.Extension(nil), s.req.Extensions...)
	n.send(s.via, &req)
	d := s.retry
	s.retry *= 2
	if s.retry > n.cfg.ResolutionRetryMax {
		s.retry = n.cfg.ResolutionRetryMax
	}
	id := s.reqID
	s.timers = append(s.timers, n.afterFunc(d, func() {
		if n.byReqID[id] == s && (s.state == stResolving || s.refreshing) {
			n.ctr.ResolutionRetries.Add(1)
			n.sendRequest(s)
		}
	}))
}

// dropShortcut forgets s and removes what it installed.
func (n *Node) dropShortcut(s *shortcut) {
	s.stopTimers()
	n.mayBeUnused(s.tunnel)
	for _, p := range s.entries {
		if e := n.cache[p]; e != nil {
			n.removeEntry(p, e)
		}
	}
	s.entries = nil
	if n.byReqID[s.reqID] == s {
		delete(n.byReqID, s.reqID)
	}
	if n.shorts[s.key] == s {
		delete(n.shorts, s.key)
	}
}

func (n *Node) handleResolutionRequest(t *tunnelState, pkt []byte, p *wire.Packet) {
	target := p.DstProto
	if !target.IsValid() || !p.SrcProto.IsValid() || len(p.CIEs) == 0 {
		n.drop(DropMalformed)
		n.sendError(t, pkt, p, wire.CodeProtocolError, 0)
		return
	}
	r, ok := n.deps.RIB.Lookup(target)
	switch {
	case ok && n.viaOverlay(r) && n.cfg.NHS:
		n.forward(t, pkt, p, target)
		return
	case !ok:
		n.drop(DropNoRoute)
		n.sendError(t, pkt, p, wire.CodeProtocolAddrUnreachable, 0)
		return
	case n.viaOverlay(r):
		// A spoke asked to resolve something it reaches through the overlay
		// itself: it does not own the prefix.
		n.drop(DropNotOwned)
		n.sendError(t, pkt, p, wire.CodeProtocolAddrUnreachable, 0)
		return
	case !n.cfg.Shortcut:
		n.drop(DropNoShortcut)
		n.sendError(t, pkt, p, wire.CodeProtocolAddrUnreachable, 0)
		return
	}
	served := r.Prefix
	if r.Local || !served.IsValid() {
		served = netip.PrefixFrom(target, target.BitLen())
	}
	// Never hand out shortcuts for very wide prefixes (a default route out
	// of the WAN): FRR's rule, which stops a spoke from attracting traffic.
	min := 8
	if !target.Is4() {
		min = 16
	}
	if served.Bits() < min {
		n.drop(DropNotOwned)
		n.sendError(t, pkt, p, wire.CodeProtocolAddrUnreachable, 0)
		return
	}
	if p.HopCount == 0 {
		n.drop(DropHopCount)
		n.sendError(t, pkt, p, wire.CodeHopCountExceeded, 9)
		return
	}
	peerNBMA, claimed := p.SrcNBMA, netip.Addr{}
	if m, ok := natMapping(p, p.SrcProto); ok && m != p.SrcNBMA {
		peerNBMA, claimed = m, p.SrcNBMA
	} else if t.Shortcut && t.RemoteNBMA.IsValid() && t.RemoteNBMA != p.SrcNBMA {
		// Straight over a spoke-to-spoke tunnel (a refresh): the far end
		// is the requester.
		peerNBMA, claimed = t.RemoteNBMA, p.SrcNBMA
	}
	if !peerNBMA.IsValid() {
		n.drop(DropMalformed)
		n.sendError(t, pkt, p, wire.CodeProtocolError, 0)
		return
	}
	pr := &pendingReply{req: p, served: served, peerProto: p.SrcProto, peerNBMA: peerNBMA, claimed: claimed, self: t}
	// A tunnel to the requester may already exist (a refresh, or both
	// spokes resolving each other at once).
	if t.Shortcut && t.RemoteNBMA == peerNBMA && t.ready {
		n.sendReply(t, pr)
		return
	}
	ts := n.shortcutTunnelTo(p.SrcProto, peerNBMA)
	if ts != nil && ts.ready {
		n.sendReply(ts, pr)
		return
	}
	if len(n.pending) >= n.cfg.MaxPendingReplies {
		n.drop(DropBusy)
		n.sendError(t, pkt, p, wire.CodeProtocolAddrUnreachable, 0)
		return
	}
	// A tunnel that is up but not ready yet takes the reply once it is;
	// one asked for already takes it when it comes up.
	initiated := ts != nil
	for _, o := range n.pending {
		if o.peerProto == pr.peerProto {
			initiated = true
		}
	}
	n.pending = append(n.pending, pr)
	pr.timer = n.afterFunc(n.cfg.TunnelSetupTimeout, func() {
		for i, o := range n.pending {
			if o == pr {
				n.pending = append(n.pending[:i], n.pending[i+1:]...)
				n.log.Info("nhrp: spoke-to-spoke tunnel not up in time; reply abandoned", "peer", pr.peerProto)
				return
			}
		}
	})
	if initiated {
		return
	}
	n.ctr.TunnelsRequested.Add(1)
	req := InitiateRequest{PeerNBMA: peerNBMA, PeerProto: p.SrcProto, LocalNBMA: t.LocalNBMA, VirtualTemplate: n.cfg.VirtualTemplate}
	n.log.Debug("nhrp: exit spoke; building tunnel to requester", "peer", p.SrcProto, "nbma", peerNBMA)
	n.later(func() {
		if err := n.deps.Protector.Initiate(req); err != nil {
			n.log.Warn("nhrp: cannot start spoke-to-spoke tunnel", "peer", req.PeerProto, "err", err)
		}
	})
}

// natMapping returns the NBMA address the NAT extension gives for proto.
func natMapping(p *wire.Packet, proto netip.Addr) (netip.Addr, bool) {
	x := p.Ext(wire.ExtNATAddress)
	if x == nil {
		return netip.Addr{}, false
	}
	for _, c := range x.CIEs {
		if c.Proto == proto && c.NBMA.IsValid() {
			return c.NBMA, true
		}
	}
	return netip.Addr{}, false
}

// flushPendingReplies sends the replies that waited for tunnel ts.
func (n *Node) flushPendingReplies(ts *tunnelState) {
	if !ts.Shortcut || !ts.ready {
		return
	}
	kept := n.pending[:0]
	for _, pr := range n.pending {
		if ts.hasRemote(pr.peerProto) || ts.RemoteNBMA == pr.peerNBMA {
			if !ts.hasRemote(pr.peerProto) {
				ts.RemoteProto = append(ts.RemoteProto, pr.peerProto)
			}
			pr.stop()
			n.sendReply(ts, pr)
			continue
		}
		kept = append(kept, pr)
	}
	n.pending = kept
}

// sendReply answers pr over the spoke-to-spoke tunnel ts and records the
// requester in the cache (implicitly learned) with a route through ts.
func (n *Node) sendReply(ts *tunnelState, pr *pendingReply) {
	req := pr.req
	v4 := pr.peerProto.Is4()
	selfProto := n.selfProto(pr.self, v4)
	selfNBMA := pr.self.LocalNBMA
	hold := time.Duration(req.CIEs[0].HoldTime) * time.Second
	if hold == 0 {
		hold = n.cfg.HoldTime
	}
	me := wire.CIE{
		PrefixLen: uint8(pr.served.Bits()),
		MTU:       n.cfg.MTU,
		HoldTime:  holdSeconds(n.cfg),
		NBMA:      selfNBMA,
		Proto:     selfProto,
	}
	rep := &wire.Packet{
		AFN:       req.AFN,
		ProType:   req.ProType,
		HopCount:  wire.DefaultHopCount,
		Type:      wire.TypeResolutionReply,
		Flags:     req.Flags&(wire.FlagResQ|wire.FlagResS|wire.FlagNAT) | wire.FlagResA | wire.FlagResD,
		RequestID: req.RequestID,
		SrcNBMA:   req.SrcNBMA,
		SrcProto:  req.SrcProto,
		DstProto:  req.DstProto,
		CIEs:      []wire.CIE{me},
	}
	if me.NBMA.IsValid() && me.NBMA.Is4() != (req.AFN == wire.AFNIPv4) {
		me.NBMA = netip.Addr{}
		rep.CIEs[0] = me
	}
	for _, x := range req.Extensions {
		switch x.Type {
		case wire.ExtEnd, wire.ExtAuthentication:
			continue
		case wire.ExtResponderAddress:
			x.CIEs, x.Data = []wire.CIE{me}, nil
		case wire.ExtNATAddress:
			x.CIEs, x.Data = nil, nil
			if m := pr.self.LocalNBMAMapped; m.IsValid() && m != selfNBMA && me.NBMA.IsValid() && m.Is4() == me.NBMA.Is4() {
				x.CIEs = []wire.CIE{{PrefixLen: hostBits(selfProto), NBMA: m, Proto: selfProto}}
			}
		}
		rep.Extensions = append(rep.Extensions, x)
	}
	if n.deps.Labels != nil {
		// The label the requester pushes on the shortcut: ours for the VRF,
		// the same BGP advertises (seed-features.md §21 step 10).
		if l, ok := n.deps.Labels.LocalLabel(); ok {
			if x, err := wire.NewMPLSLabel(l); err == nil {
				kept := rep.Extensions[:0]
				for _, o := range rep.Extensions {
					if o.Type != wire.ExtMPLSLabel {
						kept = append(kept, o)
					}
				}
				rep.Extensions = append(kept, x)
			}
		}
	}
	rep.Extensions = append(rep.Extensions, wire.Extension{Type: wire.ExtEnd, Compulsory: true})
	pr.tunnel = ts.Name
	n.send(ts.Name, rep)
	flags := FlagImplicit
	if req.Flags&wire.FlagResQ != 0 {
		flags |= FlagRouter
	}
	n.setEntry(Entry{
		Prefix:      netip.PrefixFrom(pr.peerProto, pr.peerProto.BitLen()),
		NextHop:     pr.peerProto,
		Tunnel:      ts.Name,
		Type:        TypeDynamic,
		Flags:       flags,
		NBMA:        pr.peerNBMA,
		ClaimedNBMA: pr.claimed,
	}, hold, n.deps.Labels == nil)
}

func (n *Node) handleResolutionReply(t *tunnelState, pkt []byte, p *wire.Packet) {
	if !n.isLocal(p.SrcProto) {
		if n.cfg.NHS {
			n.forward(t, pkt, p, p.SrcProto)
			return
		}
		n.drop(DropUnexpectedReply)
		return
	}
	s := n.byReqID[p.RequestID]
	if s == nil || s.target != p.DstProto {
		n.drop(DropUnexpectedReply)
		return
	}
	if len(p.CIEs) == 0 || p.CIEs[0].Code != wire.CIESuccess {
		n.drop(DropInvalidReply)
		n.negative(s)
		return
	}
	c := p.CIEs[0]
	if !c.Proto.IsValid() || c.Proto.Is4() != s.target.Is4() {
		n.drop(DropInvalidReply)
		return
	}
	var label uint32
	if x := p.Ext(wire.ExtMPLSLabel); x != nil {
		if ls, ok := x.MPLSLabels(); ok && ls[0] != 3 {
			label = ls[0]
		}
	}
	if n.deps.Labels != nil && label == 0 {
		// A VRF's shortcut needs the exit spoke's label: without one the
		// traffic would reach the peer's global table.
		n.drop(DropInvalidReply)
		return
	}
	bits := int(c.PrefixLen)
	if bits == 0 || bits == 0xff || bits > s.target.BitLen() {
		bits = s.target.BitLen()
	}
	// Never take a prefix wider than the route we have now: that would pull
	// traffic for other spokes onto this shortcut.
	if r, ok := n.deps.RIB.Lookup(s.target); ok && !r.Shortcut && r.Prefix.IsValid() && bits < r.Prefix.Bits() {
		bits = r.Prefix.Bits()
	}
	prefix := netip.PrefixFrom(s.target, bits).Masked()
	peerNBMA, claimed := c.NBMA, netip.Addr{}
	if m, ok := natMapping(p, c.Proto); ok && m != c.NBMA {
		peerNBMA, claimed = m, c.NBMA
	}
	if t.Shortcut && t.RemoteNBMA.IsValid() {
		// Over a spoke-to-spoke tunnel the peer is the tunnel's far end,
		// whatever it claims: the address we see is the one to use.
		peerNBMA = t.RemoteNBMA
		if c.NBMA != t.RemoteNBMA {
			claimed = c.NBMA
		}
	}
	hold := time.Duration(c.HoldTime) * time.Second
	if hold == 0 {
		hold = n.cfg.HoldTime
	}
	for _, tm := range s.timers {
		tm.Stop()
	}
	s.timers = s.timers[:0]
	s.refreshing = false
	s.prefix, s.peerProto, s.peerNBMA, s.claimedNBMA, s.hold, s.label = prefix, c.Proto, peerNBMA, claimed, hold, label
	n.log.Debug("nhrp: resolved", "target", s.target, "prefix", prefix, "peer", c.Proto, "nbma", peerNBMA)
	// The reply normally arrives over the spoke-to-spoke tunnel the exit
	// spoke built. If it came another way, build the tunnel ourselves.
	if t.Shortcut {
		if !t.hasRemote(c.Proto) {
			t.RemoteProto = append(t.RemoteProto, c.Proto)
		}
		n.complete(s, t)
		return
	}
	if ts := n.shortcutTunnelTo(c.Proto, peerNBMA); ts != nil {
		n.complete(s, ts)
		return
	}
	if s.state == stComplete {
		return
	}
	s.state = stWaitTunnel
	n.ctr.TunnelsRequested.Add(1)
	req := InitiateRequest{PeerNBMA: peerNBMA, PeerProto: c.Proto, LocalNBMA: t.LocalNBMA, VirtualTemplate: n.cfg.VirtualTemplate}
	n.later(func() {
		if err := n.deps.Protector.Initiate(req); err != nil {
			n.log.Warn("nhrp: cannot start spoke-to-spoke tunnel", "peer", req.PeerProto, "err", err)
		}
	})
	s.timers = append(s.timers, n.afterFunc(n.cfg.TunnelSetupTimeout, func() {
		if n.shorts[s.key] == s && s.state == stWaitTunnel {
			n.dropShortcut(s)
		}
	}))
}

// completeWaitingShortcuts installs the shortcuts that waited for ts.
func (n *Node) completeWaitingShortcuts(ts *tunnelState) {
	if !ts.Shortcut || !ts.ready {
		return
	}
	for _, s := range n.shorts {
		if s.state == stWaitTunnel && (ts.hasRemote(s.peerProto) || ts.RemoteNBMA == s.peerNBMA) {
			if !ts.hasRemote(s.peerProto) {
				ts.RemoteProto = append(ts.RemoteProto, s.peerProto)
			}
			s.stopTimers()
			n.complete(s, ts)
		}
	}
}

// complete installs (or refreshes) s's cache entries and routes through the
// spoke-to-spoke tunnel ts and arms the refresh at two thirds of the
// holding time.
func (n *Node) complete(s *shortcut, ts *tunnelState) {
	s.state = stComplete
	s.tunnel = ts.Name
	if s.via != ts.Name {
		// Refreshes go straight to the peer over the shortcut.
		s.via = ts.Name
	}
	peerHost := netip.PrefixFrom(s.peerProto, s.peerProto.BitLen())
	keep := map[netip.Prefix]bool{peerHost: true, s.prefix: true}
	for _, p := range s.entries {
		if !keep[p] {
			if e := n.cache[p]; e != nil {
				n.removeEntry(p, e)
			}
		}
	}
	// A VRF instance of an MPLS overlay routes only the VRF's prefix
	// (labelled); the route to the peer's overlay address is the overlay's.
	n.setEntry(Entry{
		Prefix: peerHost, NextHop: s.peerProto, Tunnel: ts.Name, Type: TypeDynamic,
		Flags: FlagRouter | FlagImplicit, NBMA: s.peerNBMA, ClaimedNBMA: s.claimedNBMA,
	}, s.hold, n.deps.Labels == nil)
	s.entries = []netip.Prefix{peerHost}
	if s.prefix != peerHost {
		n.setEntry(Entry{
			Prefix: s.prefix, NextHop: s.peerProto, Tunnel: ts.Name, Type: TypeDynamic,
			Flags: FlagRouter, NBMA: s.peerNBMA, ClaimedNBMA: s.claimedNBMA, Label: s.label,
		}, s.hold, true)
		s.entries = append(s.entries, s.prefix)
	}
	if n.deps.Usage != nil {
		s.lastUsage = n.deps.Usage.PacketsVia(n.routeOf(s))
	}
	n.armRefresh(s)
}

func (n *Node) routeOf(s *shortcut) ShortcutRoute {
	if e := n.cache[s.prefix]; e != nil && e.route != nil {
		return *e.route
	}
	return ShortcutRoute{Prefix: s.prefix, NextHop: s.peerProto, Tunnel: s.tunnel, Kind: n.cfg.RouteKind, Label: s.label}
}

func (n *Node) armRefresh(s *shortcut) {
	d := s.hold * 2 / 3
	s.timers = append(s.timers, n.afterFunc(d, func() {
		if n.shorts[s.key] != s || s.state != stComplete {
			return
		}
		if n.deps.Usage != nil {
			u := n.deps.Usage.PacketsVia(n.routeOf(s))
			if u == s.lastUsage {
				// Idle: let the entries expire at the holding time.
				n.log.Debug("nhrp: shortcut idle; letting it expire", "prefix", s.prefix)
				s.timers = append(s.timers, n.afterFunc(s.hold-d, func() {
					if n.shorts[s.key] == s && s.state == stComplete && !s.refreshing {
						n.dropShortcut(s)
					}
				}))
				return
			}
			s.lastUsage = u
		}
		n.refresh(s)
	}))
}

// refresh re-resolves an active shortcut with a new request, sent straight
// over the shortcut tunnel; the routes stay until the entries expire.
func (n *Node) refresh(s *shortcut) {
	ts := n.tunnels[s.tunnel]
	if ts == nil {
		n.dropShortcut(s)
		return
	}
	self := n.selfProto(ts, s.target.Is4())
	if !self.IsValid() {
		return
	}
	delete(n.byReqID, s.reqID)
	s.req = n.buildRequest(ts, self, s.target)
	s.reqID = s.req.RequestID
	n.byReqID[s.reqID] = s
	s.refreshing = true
	s.retry = n.cfg.ResolutionRetry
	n.ctr.ShortcutsRefreshed.Add(1)
	n.sendRequest(s)
	rest := s.hold - s.hold*2/3
	s.timers = append(s.timers, n.afterFunc(rest, func() {
		if n.shorts[s.key] == s && s.refreshing {
			n.ctr.ResolutionTimeouts.Add(1)
			n.dropShortcut(s)
		}
	}))
}

// selfProto is our overlay address of a family on tunnel t; a
// spoke-to-spoke virtual-access is unnumbered to the tunnel to the hub, so
// fall back to that tunnel's address.
func (n *Node) selfProto(t *tunnelState, v4 bool) netip.Addr {
	if a := t.localProto(v4); a.IsValid() {
		return a
	}
	for _, o := range n.tunnels {
		if o.ToNHS {
			if a := o.localProto(v4); a.IsValid() {
				return a
			}
		}
	}
	return netip.Addr{}
}

// shortcutTunnelTo finds an up spoke-to-spoke tunnel to the peer,
// preferring a ready one and, among equals, the lowest name, so that the
// choice does not depend on map order.
func (n *Node) shortcutTunnelTo(proto, nbma netip.Addr) *tunnelState {
	var best *tunnelState
	for _, ts := range n.tunnels {
		if !ts.Shortcut || !(ts.hasRemote(proto) || (nbma.IsValid() && ts.RemoteNBMA == nbma)) {
			continue
		}
		if best == nil || (ts.ready && !best.ready) || (ts.ready == best.ready && ts.Name < best.Name) {
			best = ts
		}
	}
	return best
}

// twinOf finds another spoke-to-spoke tunnel to the same peer as t.
func (n *Node) twinOf(t *tunnelState) *tunnelState {
	var best *tunnelState
	for _, ts := range n.tunnels {
		if ts == t || !ts.Shortcut {
			continue
		}
		same := t.RemoteNBMA.IsValid() && ts.RemoteNBMA == t.RemoteNBMA
		for _, a := range t.RemoteProto {
			same = same || ts.hasRemote(a)
		}
		if same && (best == nil || ts.Name < best.Name) {
			best = ts
		}
	}
	return best
}

// negative records that target cannot be reached through NHRP, so that new
// redirects do not trigger resolutions for a while.
func (n *Node) negative(s *shortcut) {
	s.stopTimers()
	for _, p := range s.entries {
		if e := n.cache[p]; e != nil {
			n.removeEntry(p, e)
		}
	}
	s.entries = nil
	s.state = stNegative
	delete(n.byReqID, s.reqID)
	n.setEntry(Entry{Prefix: s.key, Type: TypeNegative}, n.cfg.NegativeHoldTime, false)
	s.entries = []netip.Prefix{s.key}
	s.timers = append(s.timers, n.afterFunc(n.cfg.NegativeHoldTime, func() {
		if n.shorts[s.key] == s {
			n.dropShortcut(s)
		}
	}))
}

func (n *Node) handleErrorIndication(t *tunnelState, p *wire.Packet) {
	if !n.isLocal(p.DstProto) {
		if n.cfg.NHS {
			if r, ok := n.deps.RIB.Lookup(p.DstProto); ok && n.viaOverlay(r) && r.Tunnel != t.Name {
				if p.HopCount > 1 {
					p.HopCount--
					n.sendRaw(r.Tunnel, p)
				}
			}
		}
		return
	}
	// The quoted packet: fixed header, then the mandatory part whose
	// request ID sits at bytes 4-7.
	q := p.Payload
	if len(q) < wire.HeaderLen+8 || wire.Header(q).Type() != wire.TypeResolutionRequest {
		return
	}
	id := binary.BigEndian.Uint32(q[wire.HeaderLen+4:])
	s := n.byReqID[id]
	if s == nil {
		return
	}
	n.log.Info("nhrp: resolution failed", "target", s.target, "error", p.ErrorCode().String())
	switch p.ErrorCode() {
	case wire.CodeProtocolAddrUnreachable:
		n.negative(s)
	default:
		n.dropShortcut(s)
	}
}
