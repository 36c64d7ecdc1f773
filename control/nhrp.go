package control

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/nhrp"
	"github.com/esphub/esphub/nhrp/wire"
)

// nhrpHairpinQueue bounds the hairpin events waiting for the NHRP side; the
// dataplane's own rate limit keeps it far from full in practice, and events
// beyond it are counted and dropped rather than blocking a worker.
const nhrpHairpinQueue = 1024

// nhrpState is the daemon's NHRP side: one nhrp.Node per overlay VRF that
// has an interface with `ip nhrp network-id`, the adapters those Nodes act
// through, and the queue that carries hairpin events off the packet path.
// Its maps are guarded by mu; the Nodes lock themselves.
type nhrpState struct {
	d *Daemon

	mu       sync.Mutex
	nodes    map[string]*nhrpNode // by VRF
	attached map[string]string    // tunnel interface -> VRF of the Node it is attached to
	// vrfNodes are the NHRP instances of the customer VRFs an MPLS overlay
	// (`mpls nhrp`) carries, by customer VRF: they share the overlay's
	// tunnels and tell their packets apart by the VRF label
	// (wire.ExtVRFLabel), as data is told apart by its VPN label.
	vrfNodes map[string]*nhrpNode
	// installed remembers how each shortcut went into the RIB, so that its
	// removal undoes exactly that (an override or an H route).
	installed map[shortcutKey]nhrp.RouteKind

	hairpins      chan dataplane.HairpinEvent
	hairpinsLost  uint64 // guarded by mu
	lifetimesSeen uint64 // guarded by mu
	lifetimesLost uint64 // guarded by mu
	// lifetimes queues the dataplane's SA lifetime reports for the
	// daemon's runLifetimes, which rekeys.
	lifetimes chan dataplane.LifetimeEvent
	// unknownLabel counts NHRP packets whose VRF label names no VRF of
	// ours. Guarded by mu.
	unknownLabel uint64
	// closing holds the IKE SPIs of redundant spoke-to-spoke sessions
	// being deleted. Guarded by mu.
	closing map[uint64]bool
	// uses counts, per shortcut prefix, the readings that found its route
	// used. It only grows with the prefixes a spoke ever had shortcuts for
	// (the LANs of other spokes), and survives a route's removal so that a
	// shortcut moved between tunnels keeps its history.
	uses map[usageKey]uint64
}

type usageKey struct {
	vrf    string
	prefix netip.Prefix
}

type shortcutKey struct {
	vrf    string
	prefix netip.Prefix
	tunnel string
}

// nhrpNode is one Node and the configuration it was built from.
type nhrpNode struct {
	vrf  string
	cfg  nhrp.Config
	node *nhrp.Node
	// overlay is, for a customer VRF's instance of an MPLS overlay, the
	// VRF of the tunnels it shares (that of the overlay's Node).
	overlay string
}

func newNHRPState(d *Daemon) *nhrpState {
	return &nhrpState{d: d, nodes: map[string]*nhrpNode{}, attached: map[string]string{}, vrfNodes: map[string]*nhrpNode{},
		installed: map[shortcutKey]nhrp.RouteKind{}, uses: map[usageKey]uint64{}, hairpins: make(chan dataplane.HairpinEvent, nhrpHairpinQueue),
		lifetimes: make(chan dataplane.LifetimeEvent, lifetimeQueue)}
}

// nhrpConfigs derives the NHRP instances a configuration asks for, by VRF:
// the hub's `ip nhrp redirect` (which also makes it the next hop server)
// and the spoke's `ip nhrp shortcut virtual-template N` on any tunnel or
// virtual template with `ip nhrp network-id` in that VRF.
func nhrpConfigs(c *config.Config) map[string]nhrp.Config {
	out := map[string]nhrp.Config{}
	for _, ifc := range c.Interfaces {
		n := ifc.NHRP
		if n == nil || n.NetworkID == 0 || ifc.Shutdown {
			continue
		}
		if ifc.Kind != config.KindTunnel && ifc.Kind != config.KindVirtualTemplate {
			continue
		}
		nc := out[ifc.VRF]
		if n.Redirect {
			nc.Redirect, nc.NHS = true, true
			if n.RedirectTimeout > 0 {
				nc.RedirectTimeout = time.Duration(n.RedirectTimeout) * time.Second
			}
		}
		if n.HoldTime > 0 {
			nc.HoldTime = time.Duration(n.HoldTime) * time.Second
		}
		if n.Shortcut {
			nc.Shortcut = true
			if n.ShortcutVT != 0 {
				nc.VirtualTemplate = n.ShortcutVT
			}
		}
		out[ifc.VRF] = nc
	}
	for vrf, nc := range out {
		if nc.Shortcut && nc.VirtualTemplate == 0 {
			// Plain `ip nhrp shortcut`: the spoke's own virtual template, if
			// it has exactly one, builds the spoke-to-spoke sessions.
			for _, ifc := range c.Interfaces {
				if ifc.Kind == config.KindVirtualTemplate && ifc.VRF == vrf {
					nc.VirtualTemplate = ifc.Number
				}
			}
			out[vrf] = nc
		}
	}
	return out
}

// vrfNHRPConfig is the NHRP configuration of the customer VRFs of an MPLS
// overlay: an overlay VRF's tunnels or templates with `mpls nhrp` carry
// every VRF of router bgp, and each such VRF gets an NHRP instance with the
// overlay's settings. Shortcuts override the next hop of the VPNv4 route
// for the same prefix (NHO): an H route (distance 250) would lose to it.
func vrfNHRPConfigs(c *config.Config, overlays map[string]nhrp.Config) map[string]vrfNHRP {
	out := map[string]vrfNHRP{}
	if c.BGP == nil {
		return out
	}
	for _, ifc := range c.Interfaces {
		if !ifc.MPLSNHRP || ifc.NHRP == nil || ifc.Shutdown || (ifc.Kind != config.KindTunnel && ifc.Kind != config.KindVirtualTemplate) {
			continue
		}
		oc, ok := overlays[ifc.VRF]
		if !ok {
			continue
		}
		oc.RouteKind = nhrp.RouteNHO
		for _, v := range c.BGP.VRFs {
			if v.Name != ifc.VRF {
				out[v.Name] = vrfNHRP{overlay: ifc.VRF, cfg: oc}
			}
		}
	}
	return out
}

type vrfNHRP struct {
	overlay string
	cfg     nhrp.Config
}

// configure builds, keeps or replaces the Nodes for cfg. A Node whose
// configuration changed is closed (withdrawing its shortcuts) and rebuilt,
// and the sessions of its VRF are attached again.
func (ns *nhrpState) configure(cfg *config.Config) error {
	want := nhrpConfigs(cfg)
	var errs []error
	var reattach []string
	ns.mu.Lock()
	for vrf, nn := range ns.nodes {
		if nc, ok := want[vrf]; !ok || nc != nn.cfg {
			nn.node.Close()
			delete(ns.nodes, vrf)
			for t, v := range ns.attached {
				if v == vrf {
					delete(ns.attached, t)
				}
			}
		}
	}
	for vrf, nc := range want {
		if _, ok := ns.nodes[vrf]; ok {
			continue
		}
		node, err := nhrp.New(nc, nhrp.Deps{
			Sender: (*nhrpSender)(ns), RIB: &nhrpRIB{ns: ns, vrf: vrf}, Routes: &nhrpRoutes{ns: ns, vrf: vrf},
			Protector: (*nhrpProtector)(ns), Usage: &nhrpUsage{ns: ns, vrf: vrf}, Clock: nhrp.SystemClock{},
			Logger: ns.d.log.With("nhrp_vrf", vrf),
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("nhrp vrf %q: %w", vrf, err))
			continue
		}
		ns.nodes[vrf] = &nhrpNode{vrf: vrf, cfg: nc, node: node}
		reattach = append(reattach, vrf)
	}
	wantVRF := vrfNHRPConfigs(cfg, want)
	for vrf, nn := range ns.vrfNodes {
		if vc, ok := wantVRF[vrf]; !ok || vc.cfg != nn.cfg || vc.overlay != nn.overlay {
			nn.node.Close()
			delete(ns.vrfNodes, vrf)
		}
	}
	for vrf, vc := range wantVRF {
		if _, ok := ns.vrfNodes[vrf]; ok {
			continue
		}
		node, err := nhrp.New(vc.cfg, nhrp.Deps{
			Sender: (*nhrpSender)(ns), RIB: &nhrpRIB{ns: ns, vrf: vrf}, Routes: &nhrpRoutes{ns: ns, vrf: vrf, labelled: true},
			Protector: (*nhrpProtector)(ns), Usage: &nhrpUsage{ns: ns, vrf: vrf}, Clock: nhrp.SystemClock{},
			Logger: ns.d.log.With("nhrp_vrf", vrf), Labels: &nhrpLabels{ns: ns, vrf: vrf},
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("nhrp vrf %q: %w", vrf, err))
			continue
		}
		ns.vrfNodes[vrf] = &nhrpNode{vrf: vrf, cfg: vc.cfg, node: node, overlay: vc.overlay}
		reattach = append(reattach, vrf)
	}
	ns.mu.Unlock()
	if len(reattach) > 0 {
		for _, s := range ns.d.Sessions() {
			ns.tunnelUp(s)
		}
	}
	return errors.Join(errs...)
}

// vrfNodesOf returns the customer VRF instances sharing the tunnels of
// overlay VRF overlay.
func (ns *nhrpState) vrfNodesOf(overlay string) []*nhrpNode {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var out []*nhrpNode
	for _, nn := range ns.vrfNodes {
		if nn.overlay == overlay {
			out = append(out, nn)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].vrf < out[j].vrf })
	return out
}

// receiverOf picks the Node for an NHRP packet that arrived on tunnel, of
// the overlay Node n: the customer VRF instance its VRF label names (our
// own label for that VRF), the instance waiting for a reply with its
// request ID (a reply over a fresh spoke-to-spoke tunnel names no VRF:
// seed-features.md §21 step 12), else n itself. A label that names none of
// our VRFs gets nil: the packet is dropped rather than read in the wrong
// VRF.
func (ns *nhrpState) receiverOf(tunnel string, n *nhrp.Node, payload []byte) *nhrp.Node {
	ns.mu.Lock()
	overlay, ok := ns.attached[tunnel]
	ns.mu.Unlock()
	if !ok {
		return n
	}
	vns := ns.vrfNodesOf(overlay)
	if len(vns) == 0 {
		return n
	}
	if l, ok := wire.PacketVRFLabel(payload); ok {
		for _, vn := range vns {
			if own, ok := ns.d.mpls.VRFLabel(vn.vrf); ok && uint32(own) == l {
				return vn.node
			}
		}
		ns.mu.Lock()
		ns.unknownLabel++
		ns.mu.Unlock()
		return nil
	}
	if ty, id, ok := wire.PacketRequestID(payload); ok && ty == wire.TypeResolutionReply {
		for _, vn := range vns {
			if vn.node.Awaits(id) {
				return vn.node
			}
		}
	}
	return n
}

// nodeOf returns the Node a tunnel interface is attached to, or nil.
func (ns *nhrpState) nodeOf(tunnel string) *nhrp.Node {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	vrf, ok := ns.attached[tunnel]
	if !ok {
		return nil
	}
	if nn := ns.nodes[vrf]; nn != nil {
		return nn.node
	}
	return nil
}

// allNodes returns the Nodes, the customer VRF instances of MPLS overlays
// included, ordered by VRF name.
func (ns *nhrpState) allNodes() []*nhrpNode {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	out := make([]*nhrpNode, 0, len(ns.nodes)+len(ns.vrfNodes))
	for _, nn := range ns.nodes {
		out = append(out, nn)
	}
	for _, nn := range ns.vrfNodes {
		out = append(out, nn)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].vrf < out[j].vrf })
	return out
}

// tunnelUp attaches a session's interface to its VRF's Node when the
// interface (or the template it was cloned from) has `ip nhrp network-id`.
// A spoke's tunnel to its hub is marked ToNHS; a virtual-access on a spoke
// (a Node with shortcut) is a spoke-to-spoke tunnel.
func (ns *nhrpState) tunnelUp(s Session) {
	if s.plan == nil || s.plan.Interface == nil || s.plan.Interface.NHRP == nil || s.plan.NetworkID == 0 {
		return
	}
	ns.mu.Lock()
	nn := ns.nodes[s.VRF]
	if nn != nil {
		ns.attached[s.Interface] = s.VRF
	}
	ns.mu.Unlock()
	if nn == nil {
		return
	}
	d := ns.d
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	t := nhrp.Tunnel{
		Name: s.Interface, NetworkID: s.plan.NetworkID,
		LocalNBMA: s.Local.Addr().Unmap(), RemoteNBMA: s.Remote.Addr().Unmap(),
	}
	for _, v6 := range []bool{false, true} {
		if a, ok := interfaceAddr(cfg, s.plan.Interface.Name, v6); ok {
			t.LocalProto = append(t.LocalProto, a)
		}
	}
	// The peer's overlay address: the host routes its configuration
	// exchange announced (`route set interface`).
	var have4, have6 bool
	for _, p := range s.Routes {
		if !p.IsSingleIP() {
			continue
		}
		if a := p.Addr(); (a.Is4() && !have4) || (a.Is6() && !have6) {
			t.RemoteProto = append(t.RemoteProto, a)
			have4, have6 = have4 || a.Is4(), have6 || a.Is6()
		}
	}
	switch {
	case s.Template == "" && s.Initiator:
		t.ToNHS = !nn.cfg.NHS
	case nn.cfg.Shortcut && !nn.cfg.NHS:
		t.Shortcut = true
		// The peer installs a session it initiated only when our IKE_AUTH
		// response reaches it: NHRP holds its replies back until then.
		t.PeerInitiated = !s.Initiator
	}
	nn.node.TunnelUp(t)
	for _, vn := range ns.vrfNodesOf(s.VRF) {
		vn.node.TunnelUp(t)
	}
	if t.Shortcut {
		ns.closeRedundant(s)
	}
}

// redundantGrace is how long the redundant one of two spoke-to-spoke
// sessions with the same peer stays up after both are: packets already
// sent over it (a resolution reply among them) arrive; NHRP's entries move
// to the survivor half-way through.
const redundantGrace = time.Second

// redundantCheck bounds the liveness check on the kept session before the
// redundant one is deleted.
const redundantCheck = 5 * time.Second

// closeRedundant applies the tie-break for a simultaneous spoke-to-spoke
// setup. When both spokes start IKEv2 to each other at once (each is the
// exit spoke for the other's resolution), two sessions come up between
// them. Both sides keep the same one without talking about it: the session
// whose IKE SPIs hold the lowest of the four SPIs is redundant (RFC 7296
// §2.8.1 resolves a simultaneous rekey the same way with nonces; SPIs are
// equally random and, unlike addresses behind NAT, both sides see the same
// values). Half of redundantGrace after the setup each side checks that
// the peer answers on the kept session and moves NHRP's entries to it; the
// spoke that initiated the redundant session deletes it when the grace
// ends, so that no packet is routed to it while it is removed.
func (ns *nhrpState) closeRedundant(s Session) {
	d := ns.d
	if s.IKE.LocalSPI == 0 || s.IKE.RemoteSPI == 0 {
		return // not fully up yet: its own tunnelUp comes later
	}
	d.mu.Lock()
	var twin *Session
	for _, o := range d.sessions {
		if o.IKESPI == s.IKESPI {
			s.IKE = o.IKE // the snapshot may predate the IKE SA's info
		}
		if o.IKESPI == s.IKESPI || o.Template == "" || o.Template != s.Template || o.VRF != s.VRF ||
			o.IKE.LocalSPI == 0 || o.IKE.RemoteSPI == 0 || o.Remote.Addr() != s.Remote.Addr() ||
			!o.IKE.RemoteID.Equal(s.IKE.RemoteID) {
			continue
		}
		c := *o
		twin = &c
	}
	d.mu.Unlock()
	if twin == nil {
		return
	}
	lowest := func(x *Session) uint64 { return min(x.IKE.LocalSPI, x.IKE.RemoteSPI) }
	loser, kept, keptSPI := &s, twin.Interface, twin.IKESPI
	if lowest(twin) < lowest(&s) {
		loser, kept, keptSPI = twin, s.Interface, s.IKESPI
	}
	spi := loser.IKESPI
	ns.mu.Lock()
	if ns.closing == nil {
		ns.closing = map[uint64]bool{}
	}
	if ns.closing[spi] {
		ns.mu.Unlock()
		return
	}
	ns.closing[spi] = true
	ns.mu.Unlock()
	if loser.Initiator {
		d.log.Info("nhrp: closing the redundant spoke-to-spoke session of a simultaneous setup",
			"interface", loser.Interface, "peer", loser.Remote, "kept", kept)
	}
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() {
			ns.mu.Lock()
			delete(ns.closing, spi)
			ns.mu.Unlock()
		}()
		start := time.Now()
		select {
		case <-ctx.Done():
			return
		case <-time.After(redundantGrace / 2):
		}
		// Move NHRP's entries to the kept session only once the peer has
		// answered on it: should the peer have dropped that one unseen
		// (an INITIAL_CONTACT crossing our IKE_AUTH), closing ours would
		// leave the spokes with no session at all.
		cctx, cancel := context.WithTimeout(ctx, redundantCheck)
		err := d.engine.CheckLiveness(cctx, keptSPI)
		cancel()
		if err != nil {
			d.log.Warn("nhrp: the peer did not confirm the session kept after a simultaneous setup; keeping both",
				"kept", kept, "redundant", loser.Interface, "err", err)
			return
		}
		// Both sides move their entries half a grace before the initiator
		// deletes the redundant session, so that no packet is routed to
		// it while its SAs and tunnel are being removed.
		ns.tunnelDown(loser.Interface)
		if !loser.Initiator {
			return // the peer initiated it and deletes it
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(redundantGrace))):
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := d.engine.DeleteIKESA(dctx, spi); err != nil {
			d.log.Debug("nhrp: redundant session already gone", "spi", fmt.Sprintf("%016X", spi), "err", err)
		}
	}()
}

// tunnelDown detaches an interface whose session went down; the Node
// withdraws the shortcuts through it at once.
func (ns *nhrpState) tunnelDown(name string) {
	ns.mu.Lock()
	vrf, ok := ns.attached[name]
	delete(ns.attached, name)
	var n *nhrp.Node
	if nn := ns.nodes[vrf]; ok && nn != nil {
		n = nn.node
	}
	ns.mu.Unlock()
	if n != nil {
		n.TunnelDown(name)
		for _, vn := range ns.vrfNodesOf(vrf) {
			vn.node.TunnelDown(name)
		}
	}
}

// interfaceOf names the interface of a dataplane tunnel.
func (ns *nhrpState) interfaceOf(id dataplane.TunnelID) (string, bool) {
	d := ns.d
	d.ifMu.Lock()
	defer d.ifMu.Unlock()
	for name, t := range d.ifTunnel {
		if t == id {
			return name, true
		}
	}
	return "", false
}

// Punt receives the packets the dataplane hands to the control side (the
// portable backend's PuntFunc): NHRP (GRE protocol 0x2001) goes to the Node
// the tunnel is attached to; anything else is not for NHRP and ignored.
// payload is only read during the call.
func (d *Daemon) Punt(tunnel dataplane.TunnelID, proto uint16, payload []byte, _ netip.AddrPort) {
	if proto != wire.GREProtocol {
		return
	}
	name, ok := d.nhrp.interfaceOf(tunnel)
	if !ok {
		return
	}
	n := d.nhrp.nodeOf(name)
	if n == nil {
		// The peer may use a new session before our side has finished it:
		// a responder's IKE-up event can trail the initiator's first NHRP
		// packet (the exit spoke's resolution reply). Attach the tunnel
		// now rather than drop the reply and wait for a retransmission.
		d.mu.Lock()
		var snap *Session
		for _, s := range d.sessions {
			if s.Interface == name {
				c := *s
				c.Children = nil
				snap = &c
			}
		}
		d.mu.Unlock()
		if snap == nil {
			return
		}
		d.nhrp.tunnelUp(*snap)
		if n = d.nhrp.nodeOf(name); n == nil {
			return
		}
	}
	if n = d.nhrp.receiverOf(name, n, payload); n != nil {
		n.Receive(name, payload)
	}
}

// DataplaneEvents returns the sink to give the dataplane engine
// (dataplane.Options.Events): hairpin reports are queued, never blocking a
// worker, and delivered to NHRP by Run.
func (d *Daemon) DataplaneEvents() dataplane.EventSink { return (*nhrpEvents)(d.nhrp) }

type nhrpEvents nhrpState

// Hairpin implements dataplane.EventSink.
func (e *nhrpEvents) Hairpin(ev dataplane.HairpinEvent) {
	select {
	case e.hairpins <- ev:
	default:
		e.mu.Lock()
		e.hairpinsLost++
		e.mu.Unlock()
	}
}

// SALifetime implements dataplane.EventSink: the report is counted and
// queued, never blocking a worker, for the daemon's runLifetimes, which
// rekeys the Child SA (the IKE engine rekeys on time only).
func (e *nhrpEvents) SALifetime(ev dataplane.LifetimeEvent) {
	e.mu.Lock()
	e.lifetimesSeen++
	e.mu.Unlock()
	select {
	case e.lifetimes <- ev:
	default:
		e.mu.Lock()
		e.lifetimesLost++
		e.mu.Unlock()
	}
}

// runHairpins delivers queued hairpin events to the Node of the ingress
// tunnel until ctx ends.
func (ns *nhrpState) runHairpins(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-ns.hairpins:
			in, ok1 := ns.interfaceOf(ev.In)
			out, ok2 := ns.interfaceOf(ev.Out)
			if !ok1 || !ok2 {
				continue
			}
			n := ns.nodeOf(in)
			if n == nil {
				continue
			}
			if ev.VRF != 0 {
				// Labelled traffic: the redirect is the VRF's.
				n = nil
				if vrf, ok := ns.d.vrfName(ev.VRF); ok {
					ns.mu.Lock()
					if vn := ns.vrfNodes[vrf]; vn != nil {
						n = vn.node
					}
					ns.mu.Unlock()
				}
				if n == nil {
					continue
				}
			}
			n.HairpinFlow(in, out, ev.Src, ev.Dst)
		}
	}
}

// nhrpSender implements nhrp.Sender: NHRP goes into the tunnel in GRE with
// protocol type 0x2001, protected by the tunnel's SA.
type nhrpSender nhrpState

// SendNHRP implements nhrp.Sender.
func (s *nhrpSender) SendNHRP(tunnel string, pkt []byte) error {
	d := s.d
	d.ifMu.Lock()
	id, ok := d.ifTunnel[tunnel]
	d.ifMu.Unlock()
	if !ok {
		return fmt.Errorf("send nhrp: interface %s is down", tunnel)
	}
	if err := d.dp.Inject(id, wire.GREProtocol, pkt); err != nil {
		return fmt.Errorf("send nhrp on %s: %w", tunnel, err)
	}
	return nil
}

// nhrpRIB implements nhrp.RIB over one VRF of the daemon's RIB.
type nhrpRIB struct {
	ns  *nhrpState
	vrf string
}

// Lookup implements nhrp.RIB.
func (r *nhrpRIB) Lookup(dst netip.Addr) (nhrp.Route, bool) {
	rt, ok := r.ns.d.rib.Lookup(r.vrf, dst)
	if !ok {
		return nhrp.Route{}, false
	}
	out := nhrp.Route{Prefix: rt.Prefix, Local: rt.Source == rib.Local, Shortcut: rt.Source == rib.NHRP}
	if fw := rt.Forwarding(); len(fw) > 0 {
		out.Tunnel, out.NextHop, out.Label = fw[0].Interface, fw[0].Addr, fw[0].Label
		out.Shortcut = out.Shortcut || fw[0].Shortcut
	}
	return out, true
}

// nhrpRoutes implements nhrp.RouteSink: H routes (distance 250) owned by
// the spoke-to-spoke interface, so that its session going down withdraws
// them too, or next-hop overrides of the route for exactly the prefix.
//
// A customer VRF's instance of an MPLS overlay (labelled) installs only
// labelled shortcuts: an unlabelled route from the VRF into a shared tunnel
// would deliver its traffic to the peer's global table. The route to the
// peer's overlay address that NHRP also asks for belongs to the overlay's
// instance.
type nhrpRoutes struct {
	ns       *nhrpState
	vrf      string
	labelled bool
}

// InstallShortcut implements nhrp.RouteSink.
func (r *nhrpRoutes) InstallShortcut(sr nhrp.ShortcutRoute) error {
	if r.labelled && sr.Label == 0 {
		return nil
	}
	rb := r.ns.d.rib
	key := shortcutKey{r.vrf, sr.Prefix.Masked(), sr.Tunnel}
	nh := rib.NextHop{Addr: sr.NextHop, Interface: sr.Tunnel, Shortcut: true, Label: sr.Label}
	kind := nhrp.RouteNHRP
	if sr.Kind == nhrp.RouteNHO {
		if b, ok := rb.Best(r.vrf, key.prefix); ok && b.Source != rib.NHRP {
			rb.SetOverride(r.vrf, key.prefix, nh)
			kind = nhrp.RouteNHO
		}
	}
	if kind == nhrp.RouteNHRP {
		dist := sr.Distance
		if dist == 0 {
			dist = nhrp.NHRPDistance
		}
		if err := rb.Add(rib.Route{VRF: r.vrf, Prefix: key.prefix, Source: rib.NHRP, Distance: dist,
			NextHops: []rib.NextHop{nh}, Owner: sr.Tunnel}); err != nil {
			return fmt.Errorf("install nhrp route %v: %w", key.prefix, err)
		}
	}
	r.ns.mu.Lock()
	r.ns.installed[key] = kind
	r.ns.mu.Unlock()
	return nil
}

// RemoveShortcut implements nhrp.RouteSink.
func (r *nhrpRoutes) RemoveShortcut(sr nhrp.ShortcutRoute) error {
	if r.labelled && sr.Label == 0 {
		return nil
	}
	key := shortcutKey{r.vrf, sr.Prefix.Masked(), sr.Tunnel}
	// A shortcut moving to another tunnel is removed and installed again:
	// keep the use its route saw until now, which the FIB entry's removal
	// would lose.
	if ru, ok := r.ns.d.dp.(routeUser); ok {
		r.ns.readUse(ru, usageKey{r.vrf, key.prefix})
	}
	r.ns.mu.Lock()
	kind, ok := r.ns.installed[key]
	delete(r.ns.installed, key)
	r.ns.mu.Unlock()
	if !ok {
		kind = sr.Kind
	}
	if kind == nhrp.RouteNHO {
		r.ns.d.rib.ClearOverride(r.vrf, key.prefix)
		return nil
	}
	r.ns.d.rib.Remove(r.vrf, key.prefix, rib.NHRP, sr.Tunnel)
	return nil
}

// nhrpLabels implements nhrp.VRFLabels for a customer VRF of an MPLS
// overlay. The peer's label for the VRF is the one its VPNv4 routes carry
// through the tunnel (labels are allocated per VRF: every route of the VRF
// through one peer carries the same), including a shortcut's; our own is
// the VRF's label mpls/ allocated for BGP, so the label NHRP hands out is
// the one BGP advertises (IOS's MFI sharing, seed-features.md §21 step 10).
type nhrpLabels struct {
	ns  *nhrpState
	vrf string
}

// PeerLabel implements nhrp.VRFLabels.
func (l *nhrpLabels) PeerLabel(tunnel string) (uint32, bool) {
	for _, fam := range []int{4, 6} {
		for _, r := range l.ns.d.rib.Routes(l.vrf, fam) {
			for _, h := range r.Forwarding() {
				if h.Interface == tunnel && h.Label >= 16 {
					return h.Label, true
				}
			}
		}
	}
	return 0, false
}

// LocalLabel implements nhrp.VRFLabels.
func (l *nhrpLabels) LocalLabel() (uint32, bool) {
	v, ok := l.ns.d.mpls.VRFLabel(l.vrf)
	return uint32(v), ok
}

// vrfName names the VRF of a dataplane VRF id.
func (d *Daemon) vrfName(id uint32) (string, bool) {
	d.ifMu.Lock()
	defer d.ifMu.Unlock()
	for name, v := range d.vrfIDs {
		if v == id {
			return name, true
		}
	}
	return "", false
}

// nhrpUsage implements nhrp.Usage for one VRF with the dataplane's
// per-route use marks: a shortcut is in use while packets take its route,
// whatever else (NHRP, other prefixes) crosses the same tunnel. Each
// reading that finds the mark set advances the route's count, which is what
// the Node compares between readings.
type nhrpUsage struct {
	ns  *nhrpState
	vrf string
}

// routeUser is the dataplane's per-route use mark (dataplane.Engine).
type routeUser interface {
	RouteUsed(vrf uint32, p netip.Prefix) (used, ok bool)
}

// PacketsVia implements nhrp.Usage.
func (u *nhrpUsage) PacketsVia(r nhrp.ShortcutRoute) uint64 {
	d := u.ns.d
	key := usageKey{u.vrf, r.Prefix.Masked()}
	ru, ok := d.dp.(routeUser)
	if !ok {
		// A dataplane without use marks: the tunnel's transmit counter
		// is the best there is.
		return u.tunnelTx(r.Tunnel)
	}
	return u.ns.readUse(ru, key)
}

// readUse takes a route's use mark from the dataplane into its count.
func (ns *nhrpState) readUse(ru routeUser, key usageKey) uint64 {
	used, _ := ru.RouteUsed(ns.d.vrfID(key.vrf), key.prefix)
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if used {
		ns.uses[key]++
	}
	return ns.uses[key]
}

func (u *nhrpUsage) tunnelTx(tunnel string) uint64 {
	d := u.ns.d
	d.ifMu.Lock()
	id, ok := d.ifTunnel[tunnel]
	d.ifMu.Unlock()
	if !ok {
		return 0
	}
	for _, t := range d.dp.Tunnels() {
		if t.Config.ID == id {
			return t.TxPackets
		}
	}
	return 0
}

// nhrpProtector implements nhrp.Protector: the exit spoke starts IKEv2 to
// the requester with the profile of the virtual template named by `ip
// nhrp shortcut virtual-template N`; the session becomes a Virtual-Access
// cloned from that template, on both spokes.
type nhrpProtector nhrpState

// shortcutInitiateTimeout bounds one spoke-to-spoke IKE negotiation.
const shortcutInitiateTimeout = 30 * time.Second

// Initiate implements nhrp.Protector. It returns once the request is built;
// the exchange runs on its own goroutine and the Node learns the outcome
// from the session coming up (tunnelUp).
//
// As IOS does, a spoke reuses a spoke-to-spoke session it already has with
// the peer (in either direction) instead of building a second one: the Node
// is told that tunnel is up again, which sends what waited for it. While a
// negotiation with the peer is under way, the session's arrival does the
// same.
func (p *nhrpProtector) Initiate(req nhrp.InitiateRequest) error {
	d := p.d
	remoteNBMA := req.PeerNBMA.Unmap()
	d.mu.Lock()
	var existing *Session
	for _, s := range d.sessions {
		if s.Template != "" && s.Remote.Addr().Unmap() == remoteNBMA && s.plan != nil &&
			s.plan.Interface.Number == req.VirtualTemplate && len(s.Children) > 0 {
			if existing == nil || s.ID > existing.ID {
				existing = s
			}
		}
	}
	var snap Session
	if existing != nil {
		snap = *existing
	}
	_, negotiating := d.pendingI[remoteNBMA]
	if existing != nil || negotiating {
		d.mu.Unlock()
		if existing != nil {
			(*nhrpState)(p).tunnelUp(snap)
		}
		return nil
	}
	ir, err := d.shortcutRequest(d.cfg, req)
	ctx := d.ctx
	d.mu.Unlock()
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	remote := ir.Remote.Addr().Unmap()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ictx, cancel := context.WithTimeout(ctx, shortcutInitiateTimeout)
		defer cancel()
		info, err := d.engine.Initiate(ictx, ir)
		d.mu.Lock()
		if pd := d.pendingI[remote]; pd != nil && pd.conn == nil {
			delete(d.pendingI, remote)
		}
		d.mu.Unlock()
		if err != nil {
			d.stats.failure(notifyName(err))
			d.log.Warn("nhrp: spoke-to-spoke tunnel failed", "peer", remote, "err", err)
			if info.LocalSPI != 0 {
				dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = d.engine.DeleteIKESA(dctx, info.LocalSPI)
				cancel()
			}
		}
	}()
	return nil
}

// Release implements nhrp.Releaser: the spoke-to-spoke session of an
// interface NHRP no longer uses (its entries expired or were cleared) is
// deleted, as IOS removes the virtual-access of an expired shortcut.
//
// The VRF instances of an MPLS overlay share spoke-to-spoke sessions: the
// session stays while any instance still uses it.
func (p *nhrpProtector) Release(tunnel string) {
	ns := (*nhrpState)(p)
	d := ns.d
	for _, nn := range ns.allNodes() {
		if nn.node.InUse(tunnel) {
			return
		}
	}
	d.mu.Lock()
	var spi uint64
	for k, s := range d.sessions {
		if s.Interface == tunnel && s.Template != "" {
			spi = k
		}
	}
	ctx := d.ctx
	d.mu.Unlock()
	if spi == 0 {
		return
	}
	ns.mu.Lock()
	if ns.closing == nil {
		ns.closing = map[uint64]bool{}
	}
	busy := ns.closing[spi]
	ns.closing[spi] = true
	ns.mu.Unlock()
	if busy {
		return
	}
	if ctx == nil {
		ctx = context.Background()
	}
	d.log.Info("nhrp: closing unused spoke-to-spoke session", "interface", tunnel)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() {
			ns.mu.Lock()
			delete(ns.closing, spi)
			ns.mu.Unlock()
		}()
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := d.engine.DeleteIKESA(dctx, spi); err != nil {
			d.log.Debug("nhrp: unused session already gone", "interface", tunnel, "err", err)
		}
	}()
}

// shortcutRequest builds the IKE request for a spoke-to-spoke session from
// the virtual template's tunnel protection. Caller holds mu.
func (d *Daemon) shortcutRequest(cfg *config.Config, req nhrp.InitiateRequest) (ike.InitiateRequest, error) {
	vt := cfg.VirtualTemplate(req.VirtualTemplate)
	if vt == nil {
		return ike.InitiateRequest{}, fmt.Errorf("nhrp shortcut: interface Virtual-Template%d does not exist", req.VirtualTemplate)
	}
	remote := req.PeerNBMA.Unmap()
	if !remote.IsValid() {
		return ike.InitiateRequest{}, errors.New("nhrp shortcut: no NBMA address for the peer")
	}
	if _, busy := d.pendingI[remote]; busy {
		return ike.InitiateRequest{}, fmt.Errorf("nhrp shortcut: a negotiation with %v is already under way", remote)
	}
	local := req.LocalNBMA.Unmap()
	if tc := vt.Tunnel; tc != nil && tc.SourceAddr.IsValid() {
		local = tc.SourceAddr
	} else if tc != nil && tc.Source != "" && !local.IsValid() {
		local, _ = interfaceAddr(cfg, tc.Source, remote.Is6())
	}
	if !local.IsValid() || local.Is4() != remote.Is4() {
		return ike.InitiateRequest{}, fmt.Errorf("nhrp shortcut: %s has no %s tunnel source", vt.Name, family(remote))
	}
	ipName := ipsecProfileName(vt)
	ipp := cfg.IPsecProfile(ipName)
	if ipp == nil {
		return ike.InitiateRequest{}, fmt.Errorf("nhrp shortcut: crypto ipsec profile %s does not exist", ipName)
	}
	profName := ipp.IKEv2Profile
	if profName == "" {
		profName = "default"
	}
	prof := cfg.Profile(profName)
	if prof == nil {
		return ike.InitiateRequest{}, fmt.Errorf("nhrp shortcut: crypto ipsec profile %s names no existing crypto ikev2 profile", ipName)
	}
	pol := cfg.SelectPolicy(vt.VRF, local)
	if pol == nil {
		return ike.InitiateRequest{}, fmt.Errorf("nhrp shortcut: no crypto ikev2 policy matches local address %v", local)
	}
	props := ikeProposals(cfg.PolicyProposals(pol))
	if len(props) == 0 {
		return ike.InitiateRequest{}, fmt.Errorf("nhrp shortcut: crypto ikev2 policy %s has no usable proposal", pol.Name)
	}
	lpsk, rpsk, err := pskKeys(cfg, prof, config.KeyQuery{Role: config.Initiator, Address: remote})
	if err != nil {
		return ike.InitiateRequest{}, fmt.Errorf("nhrp shortcut: %w", err)
	}
	plan, err := planTunnel(cfg, vt, prof, true)
	if err != nil {
		return ike.InitiateRequest{}, fmt.Errorf("nhrp shortcut: %w", err)
	}
	lid, err := localIdentity(prof, local)
	if err != nil {
		return ike.InitiateRequest{}, fmt.Errorf("nhrp shortcut: %w", err)
	}
	ip := &ike.Profile{
		Name: prof.Name, LocalID: lid, LocalPSK: lpsk, RemotePSK: rpsk,
		Child:        plan.childConfig(local, remote, false),
		Lifetime:     profileLifetime(prof),
		RekeyMargin:  profileLifetime(prof) / 10,
		DPDInterval:  profileDPD(cfg, prof),
		NATKeepalive: natKeepalive(cfg, prof),
		IKEProposals: props,
	}
	d.configureExchange(ip, prof, plan, true)
	// No connector: sessionFor clones the template into a Virtual-Access.
	d.pendingI[remote] = &pending{profile: prof, plan: plan}
	return ike.InitiateRequest{
		Local:   netip.AddrPortFrom(local, transport.PortIKE),
		Remote:  netip.AddrPortFrom(remote, transport.PortIKE),
		Profile: ip,
	}, nil
}

// NHRPStats returns the counters of every NHRP instance, by VRF.
func (d *Daemon) NHRPStats() map[string]nhrp.Stats {
	out := map[string]nhrp.Stats{}
	for _, nn := range d.nhrp.allNodes() {
		out[nn.vrf] = nn.node.Stats()
	}
	return out
}

// NHRPCache returns the NHRP cache entries of every instance.
func (d *Daemon) NHRPCache() []nhrp.Entry {
	var out []nhrp.Entry
	for _, nn := range d.nhrp.allNodes() {
		out = append(out, nn.node.Cache()...)
	}
	return out
}

// ClearNHRP flushes the dynamic NHRP entries (and their shortcuts) of one
// family in every instance, as `clear ip nhrp` does, and returns how many
// it removed.
func (d *Daemon) ClearNHRP(v4 bool) int {
	n := 0
	for _, nn := range d.nhrp.allNodes() {
		n += nn.node.Clear(v4)
	}
	return n
}
