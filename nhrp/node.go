// Package nhrp implements NHRP (RFC 2332 with Cisco's traffic indication) as
// FlexVPN spoke-to-spoke needs it: the hub's redirects and resolution
// forwarding, the spoke's resolution, the exit spoke's reply over a freshly
// built spoke-to-spoke tunnel, and the shortcut routes with their holding
// time, refresh and expiry. It does no I/O of its own: the daemon (control/)
// hands it received packets and events, and it acts through the small
// interfaces below (Sender, RIB, RouteSink, Protector, Usage).
//
// One Node serves one NHRP instance (one overlay VRF). Tunnels attach to it
// with their network-id; redirects happen only between tunnels of the same
// network-id.
package nhrp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/esphub/esphub/nhrp/wire"
)

// Sender puts an NHRP packet (starting at the fixed header) into a tunnel:
// GRE with protocol type wire.GREProtocol, protected by the tunnel's SA. It
// must not retain pkt after returning.
type Sender interface {
	SendNHRP(tunnel string, pkt []byte) error
}

// Route is the answer of a RIB lookup in the Node's overlay VRF.
type Route struct {
	Prefix netip.Prefix // the matching route
	// Tunnel is the egress interface. When it names a tunnel attached to
	// the Node the route points into the NBMA overlay (an "NBMA next hop");
	// any other interface, or none, means the destination is reached off
	// the overlay: a LAN this node serves.
	Tunnel  string
	NextHop netip.Addr // overlay next hop, if any
	// Local is set when dst is an address of this node.
	Local bool
	// Shortcut is set for routes this Node installed itself.
	Shortcut bool
	// Label is the VPN label the route pushes (0: none).
	Label uint32
}

// RIB looks routes up in the overlay VRF. It must be safe to call from any
// goroutine; the Node calls it while holding its lock, so it must not call
// back into the Node.
type RIB interface {
	Lookup(dst netip.Addr) (Route, bool)
}

// RouteKind is how a shortcut is installed, as IOS offers. With RouteNHO the
// RouteSink overrides the next hop of the route for exactly that prefix
// when one exists, and should otherwise fall back to an NHRP route, as IOS
// does for prefixes it has no route for.
type RouteKind uint8

const (
	// RouteNHRP is an NHRP ("H") route with administrative distance 250.
	RouteNHRP RouteKind = iota
	// RouteNHO overrides the next hop of the covering route.
	RouteNHO
)

func (k RouteKind) String() string {
	if k == RouteNHO {
		return "nho"
	}
	return "nhrp"
}

// NHRPDistance is the administrative distance of NHRP (H) routes.
const NHRPDistance = 250

// ShortcutRoute is a route the Node asks the RIB to install or remove.
type ShortcutRoute struct {
	Prefix   netip.Prefix
	NextHop  netip.Addr // the peer's tunnel (overlay) address
	Tunnel   string     // the spoke-to-spoke tunnel
	Kind     RouteKind
	Distance uint8 // NHRPDistance for RouteNHRP
	// Label is the VPN label to push on the shortcut: the label the exit
	// spoke's resolution reply carried (MPLS over FlexVPN); 0: none.
	Label uint32
}

// RouteSink installs and removes shortcut routes. The Node calls it without
// holding its lock; calls for one prefix are made in order.
type RouteSink interface {
	InstallShortcut(r ShortcutRoute) error
	RemoveShortcut(r ShortcutRoute) error
}

// InitiateRequest asks the daemon to build a spoke-to-spoke tunnel.
type InitiateRequest struct {
	PeerNBMA        netip.Addr // where to send IKE_SA_INIT (post-NAT when known)
	PeerProto       netip.Addr // the peer's overlay address
	LocalNBMA       netip.Addr
	VirtualTemplate int // `ip nhrp shortcut virtual-template N`
}

// Protector starts IKEv2 toward another spoke. Initiate must not block on the
// exchange: the daemon reports the result later with Node.TunnelUp (or
// nothing, and the Node times out). The Node calls it without its lock.
type Protector interface {
	Initiate(req InitiateRequest) error
}

// Releaser is implemented by a Protector that can close a spoke-to-spoke
// tunnel the Node no longer needs. The Node calls Release (without its
// lock) when the last cache entry through a spoke-to-spoke tunnel went away
// (expired, purged or cleared) and no resolution is waiting for it, as IOS
// removes the virtual-access of a shortcut whose entries expired. The
// daemon deletes the session; its TunnelDown follows.
type Releaser interface {
	Release(tunnel string)
}

// Usage reports how many packets the dataplane sent through a shortcut
// route; the Node compares readings to decide whether a shortcut is in use
// when its refresh is due. A nil Usage counts every shortcut as in use.
type Usage interface {
	PacketsVia(r ShortcutRoute) uint64
}

// VRFLabels is what a Node serving one customer VRF over tunnels shared by
// several VRFs (MPLS over FlexVPN, seed-features.md §21) needs to know of
// MPLS. With it, every packet the Node sends names the VRF with the
// wire.ExtVRFLabel extension, its resolution replies carry the label the
// shortcut must push (wire.ExtMPLSLabel, steps 10-12), and it takes replies
// only with such a label: unlabelled traffic from a VRF into a shared
// tunnel would land in the peer's global table.
type VRFLabels interface {
	// PeerLabel is the label the peer on tunnel advertised for the VRF
	// (the label data of the VRF carries toward it); false when unknown.
	PeerLabel(tunnel string) (uint32, bool)
	// LocalLabel is the label this node advertises for the VRF.
	LocalLabel() (uint32, bool)
}

// Config is the NHRP configuration of one Node.
type Config struct {
	// NHS makes this node a next hop server (the hub): it forwards
	// resolution requests and replies toward their destination.
	NHS bool
	// Redirect is `ip nhrp redirect`; RedirectTimeout its `timeout`, the
	// time during which a redirect for the same source/destination pair is
	// not repeated (IOS default 8 s).
	Redirect        bool
	RedirectTimeout time.Duration
	// Shortcut is `ip nhrp shortcut virtual-template N`.
	Shortcut        bool
	VirtualTemplate int
	// HoldTime is `ip nhrp holdtime` (default 7200 s), advertised in the
	// CIEs this node sends.
	HoldTime time.Duration
	// RouteKind is how shortcuts are installed (H route or NHO).
	RouteKind RouteKind
	// MTU advertised in CIEs (default 1400).
	MTU uint16
	// AuthPassword is `ip nhrp authentication`: Cisco's cleartext form, at
	// most 8 bytes. Empty: none. Never logged.
	AuthPassword string
	// Resolution retries: first retry after ResolutionRetry (default 1 s),
	// doubling up to ResolutionRetryMax (8 s); the attempt is abandoned
	// after ResolutionTimeout (30 s).
	ResolutionRetry    time.Duration
	ResolutionRetryMax time.Duration
	ResolutionTimeout  time.Duration
	// NegativeHoldTime is how long a negative answer (protocol address
	// unreachable) suppresses new attempts for the same destination (30 s).
	NegativeHoldTime time.Duration
	// TunnelSetupTimeout bounds the wait for a spoke-to-spoke tunnel asked
	// of the Protector (default 30 s).
	TunnelSetupTimeout time.Duration
	// QuoteLen is how much of the triggering packet a traffic indication
	// carries (default 128 bytes).
	QuoteLen int
	// RedirectTableMax bounds the redirect rate-limit table (default 65536).
	RedirectTableMax int
	// MaxPendingReplies bounds the exit spoke's replies waiting for
	// spoke-to-spoke tunnels (default 1024); beyond it requests are
	// refused with an Error Indication.
	MaxPendingReplies int
	// PeerInstallGrace is how long a peer-initiated spoke-to-spoke tunnel
	// stays unused for replies unless the peer sends over it first
	// (default 200 ms; see Tunnel.PeerInitiated).
	PeerInstallGrace time.Duration
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.RedirectTimeout, 8*time.Second)
	def(&c.HoldTime, 7200*time.Second)
	def(&c.ResolutionRetry, time.Second)
	def(&c.ResolutionRetryMax, 8*time.Second)
	def(&c.ResolutionTimeout, 30*time.Second)
	def(&c.NegativeHoldTime, 30*time.Second)
	def(&c.TunnelSetupTimeout, 30*time.Second)
	def(&c.PeerInstallGrace, 200*time.Millisecond)
	if c.MTU == 0 {
		c.MTU = 1400
	}
	if c.QuoteLen <= 0 {
		c.QuoteLen = 128
	}
	if c.RedirectTableMax <= 0 {
		c.RedirectTableMax = 65536
	}
	if c.MaxPendingReplies <= 0 {
		c.MaxPendingReplies = 1024
	}
	if c.HoldTime > 0xffff*time.Second {
		c.HoldTime = 0xffff * time.Second
	}
}

// Deps are the Node's collaborators. Sender, RIB, RouteSink and Clock are
// required; Protector is required on a spoke with Shortcut; Usage, Logger and
// Labels are optional.
type Deps struct {
	Sender    Sender
	RIB       RIB
	Routes    RouteSink
	Protector Protector
	Usage     Usage
	Clock     Clock
	Logger    *slog.Logger
	// Labels makes the Node the NHRP instance of one VRF of an MPLS
	// overlay (see VRFLabels); nil for a plain overlay.
	Labels VRFLabels
}

// Tunnel describes one tunnel interface attached to the Node: the spoke's
// tunnel to the hub, a hub's virtual-access to a spoke, or a spoke-to-spoke
// virtual-access.
type Tunnel struct {
	Name      string // "Tunnel0", "Virtual-Access3"
	NetworkID uint32 // `ip nhrp network-id`
	// LocalNBMA is our underlay address on this tunnel, as we know it
	// (pre-NAT). LocalNBMAMapped is what the peer sees, when IKEv2 NAT
	// detection found a NAT in front of us; else invalid.
	LocalNBMA       netip.Addr
	LocalNBMAMapped netip.Addr
	// RemoteNBMA is the peer's underlay address as we see it (post-NAT).
	RemoteNBMA netip.Addr
	// LocalProto and RemoteProto are the overlay (tunnel) addresses, at
	// most one per family.
	LocalProto  []netip.Addr
	RemoteProto []netip.Addr
	// ToNHS marks a spoke's tunnel to its hub.
	ToNHS bool
	// Shortcut marks a spoke-to-spoke tunnel built for NHRP.
	Shortcut bool
	// PeerInitiated marks a spoke-to-spoke tunnel whose IKE SA the peer
	// initiated. The peer installs its Child SA only when our IKE_AUTH
	// response reaches it, so a packet we send the moment our side is up can
	// arrive before the peer can decrypt it. The Node therefore sends no
	// resolution reply over such a tunnel until the peer has sent NHRP over
	// it or Config.PeerInstallGrace has passed; a tunnel we initiated
	// ourselves to the same peer is used at once. This is what makes a
	// simultaneous setup (both spokes exit spokes for each other) lose
	// nothing.
	PeerInitiated bool
}

func pick(addrs []netip.Addr, v4 bool) netip.Addr {
	for _, a := range addrs {
		if a.Is4() == v4 {
			return a
		}
	}
	return netip.Addr{}
}

func (t *Tunnel) localProto(v4 bool) netip.Addr { return pick(t.LocalProto, v4) }

// hasRemote reports whether a is one of the peer's overlay addresses.
func (t *Tunnel) hasRemote(a netip.Addr) bool {
	for _, r := range t.RemoteProto {
		if r == a {
			return true
		}
	}
	return false
}

type tunnelState struct {
	Tunnel
	up time.Time
	// ready is false while a peer-initiated tunnel may not yet be
	// installed at the peer (see Tunnel.PeerInitiated).
	ready bool
	grace Timer
}

// Node is one NHRP instance. All methods are safe for concurrent use; a
// mutex serialises them, and calls out to RouteSink, Protector and Sender
// are made after the mutex is released, so those may call back into the Node.
type Node struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	mu       sync.Mutex
	tunnels  map[string]*tunnelState
	cache    map[netip.Prefix]*Entry
	shorts   map[netip.Prefix]*shortcut // requester side, by host prefix of the target
	byReqID  map[uint32]*shortcut
	pending  []*pendingReply // exit side: replies waiting for a tunnel
	redirect map[redirectKey]time.Time
	// lastSweep is when the redirect table was last swept.
	lastSweep time.Time
	nextID    uint32
	outbox    []func()
	// unused collects spoke-to-spoke tunnels that lost a cache entry during
	// the current locked operation; unlock releases those left unused.
	unused map[string]bool
	closed bool
	ctr    counters
}

// New returns a Node. It validates that the required dependencies are set.
func New(cfg Config, deps Deps) (*Node, error) {
	switch {
	case deps.Sender == nil, deps.RIB == nil, deps.Routes == nil, deps.Clock == nil:
		return nil, errors.New("nhrp: Sender, RIB, Routes and Clock are required")
	case cfg.Shortcut && deps.Protector == nil:
		return nil, errors.New("nhrp: shortcut needs a Protector to build spoke-to-spoke tunnels")
	case len(cfg.AuthPassword) > wire.CiscoAuthLen:
		return nil, fmt.Errorf("nhrp: authentication string longer than %d characters", wire.CiscoAuthLen)
	}
	cfg.setDefaults()
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		cfg:      cfg,
		deps:     deps,
		log:      log,
		tunnels:  make(map[string]*tunnelState),
		cache:    make(map[netip.Prefix]*Entry),
		shorts:   make(map[netip.Prefix]*shortcut),
		byReqID:  make(map[uint32]*shortcut),
		redirect: make(map[redirectKey]time.Time),
		nextID:   randomID(),
	}
	return n, nil
}

// randomID starts request IDs at an unpredictable value, so that IDs do not
// repeat across restarts.
func randomID() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 1
	}
	return binary.BigEndian.Uint32(b[:])
}

// Close withdraws every route the Node installed, stops its timers and
// forgets its state, for when the configuration removes the NHRP instance.
// Later calls to the Node do nothing.
func (n *Node) Close() {
	n.lock()
	defer n.unlock()
	for _, s := range n.shorts {
		n.dropShortcut(s)
	}
	for p, e := range n.cache {
		n.removeEntry(p, e)
	}
	for _, pr := range n.pending {
		pr.stop()
	}
	n.pending = nil
	n.tunnels = map[string]*tunnelState{}
	n.redirect = map[redirectKey]time.Time{}
	n.closed = true
}

// lock takes the mutex; unlock releases it and then runs the queued calls to
// the outside world, in order.
func (n *Node) lock() { n.mu.Lock() }

func (n *Node) unlock() {
	n.releaseUnused()
	out := n.outbox
	n.outbox = nil
	n.mu.Unlock()
	for _, f := range out {
		f()
	}
}

func (n *Node) later(f func()) { n.outbox = append(n.outbox, f) }

// releaseUnused asks the Releaser to close each spoke-to-spoke tunnel that
// lost an entry during this locked operation and is now unused: no cache
// entry, shortcut or waiting reply refers to it. It runs at the end of the
// operation, so entries replaced within it do not count as a loss.
func (n *Node) releaseUnused() {
	if len(n.unused) == 0 {
		return
	}
	cand := n.unused
	n.unused = nil
	rel, ok := n.deps.Protector.(Releaser)
	if !ok || n.closed {
		return
	}
	for name := range cand {
		ts := n.tunnels[name]
		if ts == nil || !ts.Shortcut || n.tunnelInUse(name) {
			continue
		}
		n.ctr.TunnelsReleased.Add(1)
		n.log.Debug("nhrp: spoke-to-spoke tunnel unused; releasing it", "tunnel", name)
		n.outbox = append(n.outbox, func() { rel.Release(name) })
	}
}

// InUse reports whether a cache entry, shortcut or waiting reply of the
// Node refers to tunnel name: a daemon whose Nodes share spoke-to-spoke
// tunnels (the VRFs of an MPLS overlay) keeps a tunnel one Node released
// while another still uses it.
func (n *Node) InUse(name string) bool {
	n.lock()
	defer n.unlock()
	return n.tunnelInUse(name)
}

// tunnelInUse reports whether anything of the Node refers to tunnel name.
func (n *Node) tunnelInUse(name string) bool {
	for _, e := range n.cache {
		if e.Tunnel == name {
			return true
		}
	}
	for _, s := range n.shorts {
		if s.tunnel == name || s.via == name {
			return true
		}
	}
	if ts := n.tunnels[name]; ts != nil {
		for _, pr := range n.pending {
			if ts.hasRemote(pr.peerProto) || ts.RemoteNBMA == pr.peerNBMA {
				return true // a reply still waiting to go over it
			}
		}
	}
	return false
}

// afterFunc arms a timer whose callback runs f under the Node's lock,
// unless the Node was closed meanwhile.
func (n *Node) afterFunc(d time.Duration, f func()) Timer {
	return n.deps.Clock.AfterFunc(d, func() {
		n.lock()
		defer n.unlock()
		if !n.closed {
			f()
		}
	})
}

func (n *Node) now() time.Time { return n.deps.Clock.Now() }

// labelFor puts into p the VRF label for the peer on tunnel, replacing
// any it carries (a forwarded packet gets the next hop's label), when the
// Node serves a VRF of an MPLS overlay.
func (n *Node) labelFor(tunnel string, p *wire.Packet) {
	if n.deps.Labels == nil {
		return
	}
	exts := make([]wire.Extension, 0, len(p.Extensions)+1)
	for _, x := range p.Extensions {
		if x.Type != wire.ExtVRFLabel {
			exts = append(exts, x)
		}
	}
	if l, ok := n.deps.Labels.PeerLabel(tunnel); ok {
		if x, err := wire.NewVRFLabel(l); err == nil {
			// Before End, which must stay last.
			i := len(exts)
			if i > 0 && exts[i-1].Type == wire.ExtEnd {
				i--
			}
			exts = append(exts[:i], append([]wire.Extension{x}, exts[i:]...)...)
		}
	}
	p.Extensions = exts
}

// Awaits reports whether the Node waits for the resolution reply with
// request ID id: a daemon with one Node per VRF hands a reply that names no
// VRF to the Node that asked (seed-features.md §21 step 12).
func (n *Node) Awaits(id uint32) bool {
	n.lock()
	defer n.unlock()
	return n.byReqID[id] != nil
}

func (n *Node) newRequestID() uint32 {
	n.nextID++
	if n.nextID == 0 {
		n.nextID = 1
	}
	return n.nextID
}

// send encodes p and queues it for the tunnel.
func (n *Node) send(tunnel string, p *wire.Packet) bool {
	n.labelFor(tunnel, p)
	if n.cfg.AuthPassword != "" {
		p.Extensions = withAuth(p.Extensions, n.cfg.AuthPassword)
	}
	b, err := p.Encode()
	if err != nil {
		n.ctr.EncodeErrors.Add(1)
		n.log.Error("nhrp: cannot encode packet", "type", p.Type.String(), "err", err)
		return false
	}
	n.countSent(p)
	n.later(func() {
		if err := n.deps.Sender.SendNHRP(tunnel, b); err != nil {
			n.ctr.SendErrors.Add(1)
			n.log.Warn("nhrp: send failed", "tunnel", tunnel, "err", err)
		}
	})
	return true
}

// withAuth replaces any authentication extension with ours, before End.
func withAuth(exts []wire.Extension, pw string) []wire.Extension {
	out := make([]wire.Extension, 0, len(exts)+2)
	for _, x := range exts {
		if x.Type == wire.ExtAuthentication || x.Type == wire.ExtEnd {
			continue
		}
		out = append(out, x)
	}
	return append(out, wire.NewCiscoAuth(pw), wire.Extension{Type: wire.ExtEnd, Compulsory: true})
}

// TunnelUp attaches a tunnel or updates it (after a rekey, a NAT change).
// For a spoke-to-spoke tunnel it sends the resolution replies waiting for it
// (exit spoke) or installs the shortcuts waiting for it (requester).
func (n *Node) TunnelUp(t Tunnel) {
	n.lock()
	defer n.unlock()
	if n.closed {
		return
	}
	ts := &tunnelState{Tunnel: t, up: n.now(), ready: !(t.Shortcut && t.PeerInitiated)}
	if old, ok := n.tunnels[t.Name]; ok {
		ts.up = old.up
		ts.ready = ts.ready || old.ready
		if old.grace != nil {
			old.grace.Stop()
		}
	}
	n.tunnels[t.Name] = ts
	n.log.Debug("nhrp: tunnel up", "tunnel", t.Name, "remote_nbma", t.RemoteNBMA, "ready", ts.ready)
	if !ts.ready {
		ts.grace = n.afterFunc(n.cfg.PeerInstallGrace, func() {
			if n.tunnels[ts.Name] == ts && !ts.ready {
				n.markReady(ts)
			}
		})
		return
	}
	n.flushPendingReplies(ts)
	n.completeWaitingShortcuts(ts)
}

// markReady starts using a peer-initiated tunnel: the peer sent over it, or
// the grace period passed.
func (n *Node) markReady(ts *tunnelState) {
	ts.ready = true
	if ts.grace != nil {
		ts.grace.Stop()
		ts.grace = nil
	}
	n.flushPendingReplies(ts)
	n.completeWaitingShortcuts(ts)
}

// TunnelDown detaches a tunnel: when a spoke-to-spoke SA dies, the shortcuts
// and cache entries through it are removed at once, so traffic falls back to
// the hub.
//
// When another spoke-to-spoke tunnel to the same peer is up (both spokes
// built one at once and the redundant one is being closed), the entries and
// shortcuts move to it instead, and traffic stays direct.
func (n *Node) TunnelDown(name string) {
	n.lock()
	defer n.unlock()
	dead, ok := n.tunnels[name]
	if !ok {
		return
	}
	delete(n.tunnels, name)
	if dead.grace != nil {
		dead.grace.Stop()
	}
	var alt *tunnelState
	if dead.Shortcut {
		alt = n.twinOf(dead)
	}
	now := n.now()
	for p, e := range n.cache {
		if e.Tunnel != name {
			continue
		}
		if alt == nil || e.Type != TypeDynamic || (!e.Expire.IsZero() && !e.Expire.After(now)) {
			n.removeEntry(p, e)
			continue
		}
		moved := *e
		moved.Tunnel, moved.route, moved.timer = alt.Name, nil, nil
		if moved.NextHop.IsValid() && !alt.hasRemote(moved.NextHop) {
			alt.RemoteProto = append(alt.RemoteProto, moved.NextHop)
		}
		var hold time.Duration
		if !e.Expire.IsZero() {
			hold = e.Expire.Sub(now)
		}
		n.setEntry(moved, hold, e.route != nil)
		n.ctr.ShortcutsMoved.Add(1)
	}
	for _, s := range n.shorts {
		if s.tunnel != name && s.via != name {
			continue
		}
		if alt == nil {
			n.dropShortcut(s)
			continue
		}
		if s.tunnel == name {
			s.tunnel = alt.Name
		}
		if s.via == name {
			s.via = alt.Name
		}
	}
	kept := n.pending[:0]
	for _, pr := range n.pending {
		if pr.tunnel == name {
			pr.stop()
			continue
		}
		kept = append(kept, pr)
	}
	n.pending = kept
}

// Receive handles one NHRP packet (from the fixed header on, GRE removed)
// that arrived on the named tunnel. It never retains pkt. Malformed packets
// are counted and, where RFC 2332 says so, answered with an Error Indication.
func (n *Node) Receive(tunnel string, pkt []byte) {
	n.lock()
	defer n.unlock()
	if n.closed {
		return
	}
	n.ctr.Received.Add(1)
	t, ok := n.tunnels[tunnel]
	if !ok {
		n.drop(DropUnknownTunnel)
		return
	}
	p, err := wire.Decode(pkt)
	if err != nil {
		var pe *wire.ParseError
		if errors.As(err, &pe) {
			n.parseError(t, pkt, pe)
		}
		return
	}
	p = clonePacket(p)
	if !n.authOK(p) {
		n.drop(DropAuth)
		n.sendError(t, pkt, p, wire.CodeAuthenticationFailure, 0)
		return
	}
	if !t.ready {
		// The peer sent over the tunnel it initiated: it has installed it.
		n.markReady(t)
	}
	n.countReceived(p)
	switch p.Type {
	case wire.TypeTrafficIndication:
		n.handleTrafficIndication(t, p)
	case wire.TypeResolutionRequest:
		n.handleResolutionRequest(t, pkt, p)
	case wire.TypeResolutionReply:
		n.handleResolutionReply(t, pkt, p)
	case wire.TypeErrorIndication:
		n.handleErrorIndication(t, p)
	case wire.TypeRegistrationRequest:
		n.handleRegistrationRequest(t, pkt, p)
	case wire.TypePurgeRequest:
		n.handlePurgeRequest(t, pkt, p)
	default:
		// Registration and purge replies answer requests esphub does not
		// send (IKEv2 tells the hub what registration would).
		n.drop(DropUnsupportedType)
	}
}

// clonePacket detaches p from the receive buffer.
func clonePacket(p *wire.Packet) *wire.Packet {
	q := *p
	q.Payload = append([]byte(nil), p.Payload...)
	q.CIEs = append([]wire.CIE(nil), p.CIEs...)
	q.Extensions = make([]wire.Extension, len(p.Extensions))
	for i, x := range p.Extensions {
		q.Extensions[i] = wire.Extension{Type: x.Type, Compulsory: x.Compulsory,
			CIEs: append([]wire.CIE(nil), x.CIEs...)}
		if x.Data != nil {
			q.Extensions[i].Data = append([]byte{}, x.Data...)
		}
	}
	return &q
}
