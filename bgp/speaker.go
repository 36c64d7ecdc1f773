// Package bgp is esphub's MP-BGP speaker for MPLS over FlexVPN: it embeds
// GoBGP (github.com/osrg/gobgp/v4) as a library, with no gRPC server, to
// exchange VPNv4 routes (RFC 4364: route distinguisher, prefix, MPLS label,
// route targets) with the hub or the spokes over the tunnels.
//
// The Speaker advertises only what it is told to originate (the VRF routes
// control exports, each with the label mpls/ allocated for its VRF) and
// reports the best VPNv4 routes it learned from peers as a complete
// snapshot, which control imports into VRFs by route target. Routes learned
// from one peer are never passed on to another as they are: a hub
// re-originates them from its own VRFs with its own label and next hop, as
// an IOS PE with `next-hop-self` and a per-VRF label does. Export is
// therefore restricted to locally originated paths.
//
// The package depends on GoBGP and the standard library only.
package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// Config configures a Speaker.
type Config struct {
	ASN      uint32
	RouterID netip.Addr
	// ListenAddrs are the addresses to accept BGP connections on (port
	// ListenPort); none listens on every address. ListenPort is 179 when
	// zero, and -1 disables listening (active neighbors only).
	ListenAddrs []netip.Addr
	ListenPort  int
	// KeepaliveTime and HoldTime default to 60 s and 180 s.
	KeepaliveTime, HoldTime time.Duration
	// ConnectRetry is the time between connection attempts (5 s when zero;
	// GoBGP's default of 120 s is too slow for tunnels that come up late).
	ConnectRetry time.Duration
	Neighbors    []Neighbor
	// Dynamic are `bgp listen range` entries: peers connecting from these
	// prefixes are accepted with the range's settings.
	Dynamic []DynamicRange
	Logger  *slog.Logger
	// OnRoutes is called with every change of the learned best routes,
	// with the complete set (sorted). It is called from one goroutine, in
	// order, and must not call back into the Speaker synchronously.
	OnRoutes func([]Route)
}

// Neighbor is one configured BGP neighbor.
type Neighbor struct {
	Addr netip.Addr
	// Port is the neighbor's BGP port (179 when zero).
	Port    uint16
	PeerASN uint32
	// LocalAddr is the update source (the address connections come from).
	LocalAddr netip.Addr
	// Multihop is the eBGP TTL (0: directly connected, TTL 1).
	Multihop    uint8
	Passive     bool
	Description string
	// Password is the TCP MD5 key (RFC 2385); never logged.
	Password string
}

// DynamicRange accepts neighbors from Prefix.
type DynamicRange struct {
	Prefix   netip.Prefix
	PeerASN  uint32
	Multihop uint8
	Password string
}

// Route is one VPNv4 route.
type Route struct {
	// RD is the route distinguisher as ASN:nn or A.B.C.D:nn.
	RD     string       `json:"rd"`
	Prefix netip.Prefix `json:"prefix"`
	// Label is the VPN label (the bottom of the NLRI's label stack).
	Label   uint32     `json:"label"`
	NextHop netip.Addr `json:"next_hop"`
	// RouteTargets are the route-target extended communities (ASN:nn).
	RouteTargets []string `json:"route_targets,omitempty"`
	ASPath       []uint32 `json:"as_path,omitempty"`
	// Peer is the neighbor the route was learned from (invalid for a
	// locally originated route).
	Peer netip.Addr `json:"peer,omitzero"`
	Age  time.Time  `json:"since"`
}

// Key names a route in the VPNv4 table.
func (r Route) Key() string { return r.RD + ":" + r.Prefix.String() }

// PeerInfo is a snapshot of one neighbor (configured or dynamic).
type PeerInfo struct {
	Addr      netip.Addr `json:"neighbor"`
	ASN       uint32     `json:"remote_as"`
	State     string     `json:"state"` // Idle, Connect, Active, OpenSent, OpenConfirm, Established
	Dynamic   bool       `json:"dynamic,omitempty"`
	RouterID  string     `json:"router_id,omitempty"`
	Received  uint64     `json:"prefixes_received"`
	Sent      uint64     `json:"messages_sent"`
	Recv      uint64     `json:"messages_received"`
	Uptime    time.Time  `json:"up_since,omitzero"`
	LastError string     `json:"last_error,omitempty"`
}

// Speaker is a running BGP instance. Its methods are safe for concurrent
// use.
type Speaker struct {
	cfg    Config
	log    *slog.Logger
	srv    *server.BgpServer
	cancel context.CancelFunc
	kick   chan struct{}
	done   chan struct{}

	mu     sync.Mutex
	local  map[string]Route // originated, by Key
	routes []Route          // the last snapshot handed to OnRoutes
}

// minLevel drops records below a level before they reach the handler.
type minLevel struct {
	slog.Handler
	min slog.Leveler
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min.Level() && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{m.Handler.WithAttrs(as), m.min}
}

func (m minLevel) WithGroup(g string) slog.Handler { return minLevel{m.Handler.WithGroup(g), m.min} }

// dynamicGroup is the GoBGP peer group behind Dynamic ranges.
func dynamicGroup(i int) string { return "dynamic" + strconv.Itoa(i) }

// Start starts a speaker. It returns once GoBGP runs and the neighbors are
// configured; sessions come up in the background.
func Start(cfg Config) (*Speaker, error) {
	if cfg.ASN == 0 {
		return nil, errors.New("bgp: no AS number")
	}
	if !cfg.RouterID.Is4() {
		return nil, fmt.Errorf("bgp: router id %v is not an IPv4 address", cfg.RouterID)
	}
	if cfg.ListenPort == 0 {
		cfg.ListenPort = 179
	}
	if cfg.ConnectRetry == 0 {
		cfg.ConnectRetry = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lvl := &slog.LevelVar{}
	lvl.Set(slog.LevelInfo)
	// GoBGP logs every UPDATE at debug level; keep its messages at info
	// and above whatever the daemon's level.
	srv := server.NewBgpServer(server.LoggerOption(slog.New(minLevel{log.Handler(), lvl}).With("subsystem", "gobgp"), lvl))
	go srv.Serve()
	global := &api.Global{Asn: cfg.ASN, RouterId: cfg.RouterID.String(), ListenPort: int32(cfg.ListenPort)}
	for _, a := range cfg.ListenAddrs {
		global.ListenAddresses = append(global.ListenAddresses, a.String())
	}
	ctx := context.Background()
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: global}); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("bgp: start: %w", err)
	}
	s := &Speaker{cfg: cfg, log: log, srv: srv, kick: make(chan struct{}, 1), done: make(chan struct{}), local: map[string]Route{}}
	fail := func(err error) (*Speaker, error) {
		srv.Stop()
		return nil, err
	}
	if err := s.exportLocalOnly(ctx); err != nil {
		return fail(err)
	}
	for _, n := range cfg.Neighbors {
		if err := s.AddNeighbor(n); err != nil {
			return fail(err)
		}
	}
	for i, d := range cfg.Dynamic {
		pg := &api.PeerGroup{
			Conf:         &api.PeerGroupConf{PeerGroupName: dynamicGroup(i), PeerAsn: d.PeerASN, AuthPassword: d.Password},
			Timers:       s.timers(),
			AfiSafis:     vpnv4AfiSafis(),
			EbgpMultihop: multihop(d.Multihop),
			Transport:    &api.Transport{PassiveMode: true},
		}
		if err := srv.AddPeerGroup(ctx, &api.AddPeerGroupRequest{PeerGroup: pg}); err != nil {
			return fail(fmt.Errorf("bgp: listen range %v: %w", d.Prefix, err))
		}
		if err := srv.AddDynamicNeighbor(ctx, &api.AddDynamicNeighborRequest{DynamicNeighbor: &api.DynamicNeighbor{
			Prefix: d.Prefix.String(), PeerGroup: dynamicGroup(i)}}); err != nil {
			return fail(fmt.Errorf("bgp: listen range %v: %w", d.Prefix, err))
		}
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := srv.WatchEvent(wctx, server.WatchEventMessageCallbacks{
		OnBestPath:   func([]*apiutil.Path, time.Time) { s.poke() },
		OnPathUpdate: func([]*apiutil.Path, time.Time) { s.poke() },
		OnPeerUpdate: func(ev *apiutil.WatchEventMessage_PeerEvent, _ time.Time) {
			if ev.Type == apiutil.PEER_EVENT_STATE {
				log.Info("bgp neighbor state", "neighbor", ev.Peer.State.NeighborAddress, "state", stateName(ev.Peer.State.SessionState))
				s.poke()
			}
		},
	}, server.WatchBestPath(true), server.WatchUpdate(true, "", ""), server.WatchPeer()); err != nil {
		cancel()
		return fail(fmt.Errorf("bgp: watch: %w", err))
	}
	go s.publish(wctx)
	return s, nil
}

// exportLocalOnly installs the global export policy: advertise only the
// paths this speaker originates.
func (s *Speaker) exportLocalOnly(ctx context.Context) error {
	stmt := func(name string, t api.Conditions_RouteType) *api.Statement {
		return &api.Statement{Name: name, Conditions: &api.Conditions{RouteType: t},
			Actions: &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_REJECT}}
	}
	pol := &api.Policy{Name: "esphub-local-only", Statements: []*api.Statement{
		stmt("no-ebgp-transit", api.Conditions_ROUTE_TYPE_EXTERNAL),
		stmt("no-ibgp-transit", api.Conditions_ROUTE_TYPE_INTERNAL),
	}}
	if err := s.srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: pol}); err != nil {
		return fmt.Errorf("bgp: export policy: %w", err)
	}
	if err := s.srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_POLICY_DIRECTION_EXPORT,
		Policies: []*api.Policy{{Name: pol.Name}}, DefaultAction: api.RouteAction_ROUTE_ACTION_ACCEPT,
	}}); err != nil {
		return fmt.Errorf("bgp: export policy: %w", err)
	}
	return nil
}

func (s *Speaker) timers() *api.Timers {
	t := &api.TimersConfig{ConnectRetry: uint64(s.cfg.ConnectRetry / time.Second)}
	if s.cfg.HoldTime > 0 {
		t.HoldTime = uint64(s.cfg.HoldTime / time.Second)
	}
	if s.cfg.KeepaliveTime > 0 {
		t.KeepaliveInterval = uint64(s.cfg.KeepaliveTime / time.Second)
	}
	return &api.Timers{Config: t}
}

func vpnv4AfiSafis() []*api.AfiSafi {
	return []*api.AfiSafi{{Config: &api.AfiSafiConfig{
		Family:  &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_MPLS_VPN},
		Enabled: true,
	}}}
}

func multihop(ttl uint8) *api.EbgpMultihop {
	if ttl == 0 {
		return nil
	}
	return &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(ttl)}
}

// RouterID returns the speaker's router id.
func (s *Speaker) RouterID() netip.Addr { return s.cfg.RouterID }

// AddNeighbor configures a neighbor.
func (s *Speaker) AddNeighbor(n Neighbor) error {
	if !n.Addr.IsValid() || n.PeerASN == 0 {
		return fmt.Errorf("bgp: neighbor %v: address and remote AS are required", n.Addr)
	}
	p := &api.Peer{
		Conf:         &api.PeerConf{NeighborAddress: n.Addr.String(), PeerAsn: n.PeerASN, Description: n.Description, AuthPassword: n.Password},
		Timers:       s.timers(),
		AfiSafis:     vpnv4AfiSafis(),
		EbgpMultihop: multihop(n.Multihop),
		Transport:    &api.Transport{PassiveMode: n.Passive, RemotePort: uint32(n.Port)},
	}
	if n.LocalAddr.IsValid() {
		p.Transport.LocalAddress = n.LocalAddr.String()
	}
	if err := s.srv.AddPeer(context.Background(), &api.AddPeerRequest{Peer: p}); err != nil {
		return fmt.Errorf("bgp: neighbor %v: %w", n.Addr, err)
	}
	return nil
}

// DeleteNeighbor removes a configured neighbor.
func (s *Speaker) DeleteNeighbor(addr netip.Addr) error {
	if err := s.srv.DeletePeer(context.Background(), &api.DeletePeerRequest{Address: addr.String()}); err != nil {
		return fmt.Errorf("bgp: delete neighbor %v: %w", addr, err)
	}
	return nil
}

// Stop closes every session (peers see a NOTIFICATION / Cease) and stops
// the speaker.
func (s *Speaker) Stop() {
	s.cancel()
	<-s.done
	s.srv.Stop() // StopBgp, then the rest of the server

}

// vpnPath builds the GoBGP path for r.
func vpnPath(r Route, withdraw bool) (*apiutil.Path, error) {
	rd, err := gobgp.ParseRouteDistinguisher(r.RD)
	if err != nil {
		return nil, fmt.Errorf("rd %q: %w", r.RD, err)
	}
	if !r.Prefix.Addr().Is4() {
		return nil, fmt.Errorf("prefix %v: VPNv4 carries IPv4 prefixes only", r.Prefix)
	}
	if r.Label > 0xFFFFF {
		return nil, fmt.Errorf("label %d out of range", r.Label)
	}
	nlri, err := gobgp.NewLabeledVPNIPAddrPrefix(r.Prefix.Masked(), *gobgp.NewMPLSLabelStack(r.Label), rd)
	if err != nil {
		return nil, fmt.Errorf("prefix %v: %w", r.Prefix, err)
	}
	nh := r.NextHop
	if !nh.IsValid() {
		nh = netip.IPv4Unspecified()
	}
	mp, err := gobgp.NewPathAttributeMpReachNLRI(gobgp.RF_IPv4_VPN, []gobgp.PathNLRI{{NLRI: nlri}}, nh)
	if err != nil {
		return nil, fmt.Errorf("prefix %v: %w", r.Prefix, err)
	}
	attrs := []gobgp.PathAttributeInterface{gobgp.NewPathAttributeOrigin(gobgp.BGP_ORIGIN_ATTR_TYPE_INCOMPLETE), mp}
	var ecs []gobgp.ExtendedCommunityInterface
	for _, rt := range r.RouteTargets {
		ec, err := gobgp.ParseRouteTarget(rt)
		if err != nil {
			return nil, fmt.Errorf("route target %q: %w", rt, err)
		}
		ecs = append(ecs, ec)
	}
	if len(ecs) > 0 {
		attrs = append(attrs, gobgp.NewPathAttributeExtendedCommunities(ecs))
	}
	return &apiutil.Path{Family: gobgp.RF_IPv4_VPN, Nlri: nlri, Attrs: attrs, Withdrawal: withdraw}, nil
}

// Originate advertises r (or replaces the route with the same RD and
// prefix) as a locally originated VPNv4 route.
func (s *Speaker) Originate(r Route) error {
	p, err := vpnPath(r, false)
	if err != nil {
		return fmt.Errorf("bgp: originate: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.local[r.Key()]; ok && sameRoute(old, r) {
		return nil
	}
	if _, err := s.srv.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("bgp: originate %s: %w", r.Key(), err)
	}
	s.local[r.Key()] = r
	return nil
}

// Withdraw stops advertising the local route with r's RD and prefix.
func (s *Speaker) Withdraw(rd string, prefix netip.Prefix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := Route{RD: rd, Prefix: prefix}.Key()
	old, ok := s.local[key]
	if !ok {
		return nil
	}
	p, err := vpnPath(old, true)
	if err != nil {
		return fmt.Errorf("bgp: withdraw: %w", err)
	}
	if err := s.srv.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("bgp: withdraw %s: %w", key, err)
	}
	delete(s.local, key)
	return nil
}

// Originated returns the locally originated routes, sorted.
func (s *Speaker) Originated() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Route, 0, len(s.local))
	for _, r := range s.local {
		out = append(out, r)
	}
	sortRoutes(out)
	return out
}

// Learned returns the last snapshot of learned best routes.
func (s *Speaker) Learned() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.routes)
}

func sameRoute(a, b Route) bool {
	return a.RD == b.RD && a.Prefix == b.Prefix && a.Label == b.Label && a.NextHop == b.NextHop &&
		slices.Equal(a.RouteTargets, b.RouteTargets)
}

func sortRoutes(rs []Route) {
	slices.SortFunc(rs, func(a, b Route) int {
		if c := strings.Compare(a.RD, b.RD); c != 0 {
			return c
		}
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
}

func (s *Speaker) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// publish turns best-path events into snapshots for OnRoutes, coalescing
// bursts (a full table arriving after a session comes up).
func (s *Speaker) publish(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		}
		// Let a burst of updates settle.
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		routes, err := s.learned()
		if err != nil {
			s.log.Warn("bgp: reading the VPNv4 table failed", "err", err)
			continue
		}
		s.mu.Lock()
		changed := !slices.EqualFunc(routes, s.routes, func(a, b Route) bool { return sameRoute(a, b) && a.Peer == b.Peer })
		s.routes = routes
		s.mu.Unlock()
		if changed && s.cfg.OnRoutes != nil {
			s.cfg.OnRoutes(slices.Clone(routes))
		}
	}
}

// learned lists, per RD and prefix, the best VPNv4 route that came from a
// peer. A locally originated path for the same RD and prefix (a hub that
// re-originates what it learned) does not hide it: the learned route is
// what the re-origination is made from, so hiding it would withdraw the
// re-origination and flap.
func (s *Speaker) learned() ([]Route, error) {
	var out []Route
	err := s.srv.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: gobgp.RF_IPv4_VPN},
		func(_ gobgp.NLRI, paths []*apiutil.Path) {
			// GoBGP lists a destination's paths best first.
			for _, p := range paths {
				if p.Withdrawal || p.Filtered || !p.PeerAddress.IsValid() || p.PeerAddress.IsUnspecified() {
					continue
				}
				if r, ok := routeOf(p); ok {
					out = append(out, r)
					break
				}
			}
		})
	if err != nil {
		return nil, err
	}
	sortRoutes(out)
	return out, nil
}

// routeOf converts a GoBGP VPNv4 path.
func routeOf(p *apiutil.Path) (Route, bool) {
	n, ok := p.Nlri.(*gobgp.LabeledVPNIPAddrPrefix)
	if !ok || n.RD == nil {
		return Route{}, false
	}
	pfx, err := netip.ParsePrefix(n.IPPrefix())
	if err != nil {
		return Route{}, false
	}
	r := Route{RD: n.RD.String(), Prefix: pfx, Peer: p.PeerAddress, Age: time.Unix(p.Age, 0)}
	if l := n.Labels.Labels; len(l) > 0 {
		r.Label = l[len(l)-1]
	}
	for _, a := range p.Attrs {
		switch a := a.(type) {
		case *gobgp.PathAttributeMpReachNLRI:
			r.NextHop = a.Nexthop
		case *gobgp.PathAttributeNextHop:
			r.NextHop = a.Value
		case *gobgp.PathAttributeExtendedCommunities:
			for _, ec := range a.Value {
				if _, sub := ec.GetTypes(); sub == gobgp.EC_SUBTYPE_ROUTE_TARGET {
					r.RouteTargets = append(r.RouteTargets, ec.String())
				}
			}
		case *gobgp.PathAttributeAsPath:
			for _, seg := range a.Value {
				r.ASPath = append(r.ASPath, seg.GetAS()...)
			}
		}
	}
	slices.Sort(r.RouteTargets)
	return r, true
}

// Peers returns the neighbors and their states, by address.
func (s *Speaker) Peers() []PeerInfo {
	var out []PeerInfo
	_ = s.srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
		st := p.GetState()
		if st == nil {
			return
		}
		a, _ := netip.ParseAddr(st.NeighborAddress)
		pi := PeerInfo{Addr: a, ASN: st.PeerAsn, State: sessionStateName(st.SessionState), RouterID: st.RouterId,
			Dynamic:   p.GetConf().GetPeerGroup() != "" && strings.HasPrefix(p.GetConf().GetPeerGroup(), "dynamic"),
			LastError: st.DisconnectMessage}
		if m := st.GetMessages(); m != nil {
			pi.Sent, pi.Recv = m.GetSent().GetTotal(), m.GetReceived().GetTotal()
		}
		for _, af := range p.GetAfiSafis() {
			pi.Received += af.GetState().GetReceived()
		}
		if t := p.GetTimers().GetState(); t != nil && t.GetUptime() != nil && st.SessionState == api.PeerState_SESSION_STATE_ESTABLISHED {
			pi.Uptime = t.GetUptime().AsTime()
		}
		out = append(out, pi)
	})
	slices.SortFunc(out, func(a, b PeerInfo) int { return a.Addr.Compare(b.Addr) })
	return out
}

func sessionStateName(s api.PeerState_SessionState) string {
	switch s {
	case api.PeerState_SESSION_STATE_IDLE:
		return "Idle"
	case api.PeerState_SESSION_STATE_CONNECT:
		return "Connect"
	case api.PeerState_SESSION_STATE_ACTIVE:
		return "Active"
	case api.PeerState_SESSION_STATE_OPENSENT:
		return "OpenSent"
	case api.PeerState_SESSION_STATE_OPENCONFIRM:
		return "OpenConfirm"
	case api.PeerState_SESSION_STATE_ESTABLISHED:
		return "Established"
	}
	return "Idle"
}

func stateName(s gobgp.FSMState) string {
	switch s {
	case gobgp.BGP_FSM_IDLE:
		return "Idle"
	case gobgp.BGP_FSM_CONNECT:
		return "Connect"
	case gobgp.BGP_FSM_ACTIVE:
		return "Active"
	case gobgp.BGP_FSM_OPENSENT:
		return "OpenSent"
	case gobgp.BGP_FSM_OPENCONFIRM:
		return "OpenConfirm"
	case gobgp.BGP_FSM_ESTABLISHED:
		return "Established"
	}
	return "Idle"
}
