package control

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

// This file adapts config's FlexVPN selection rules to the ike.Policy
// interface: IKE proposals from the IKEv2 policy, profiles, keyring keys,
// identities and the Child SA policy of the tunnel interface or virtual
// template the profile leads to.

// ikeProposals expands IOS proposals (lists of transforms per type) into the
// engine's single-transform proposals, keeping IOS preference order:
// proposal, then encryption, integrity, PRF and group.
func ikeProposals(ps []*config.Proposal) []suite.Proposal {
	var out []suite.Proposal
	for _, p := range ps {
		for _, e := range p.Encryption {
			id, bits := e.IANA()
			type pair struct {
				integ wire.IntegID
				prfs  []config.PRF
			}
			var pairs []pair
			switch {
			case e.IsAEAD():
				pairs = []pair{{wire.IntegNone, p.EffectivePRF()}}
			case len(p.PRF) > 0:
				for _, i := range p.Integrity {
					pairs = append(pairs, pair{i.IANA(), p.PRF})
				}
			default:
				// Without a prf line each integrity algorithm brings its
				// own PRF; they are not crossed.
				for _, i := range p.Integrity {
					pairs = append(pairs, pair{i.IANA(), []config.PRF{config.PRFFor(i)}})
				}
			}
			for _, pr := range pairs {
				for _, prf := range pr.prfs {
					for _, g := range p.Groups {
						out = append(out, suite.Proposal{Encr: id, KeyBits: int(bits), Integ: pr.integ, PRF: prf.IANA(), DH: g.IANA()})
					}
				}
			}
		}
	}
	return out
}

// espProposals returns the Child SA proposals of an IPsec profile's
// transform sets that the dataplane can carry, and the transform sets'
// mode ("transport" when every set asks for it). pfs adds the profile's
// PFS group.
func espProposals(c *config.Config, ip *config.IPsecProfile) ([]suite.Proposal, string) {
	var out []suite.Proposal
	mode := "tunnel"
	transport := 0
	sets := c.EffectiveTransformSets(ip)
	for _, ts := range sets {
		enc, bits, integ := ts.ESPTransforms()
		if _, ok := espAlgorithm(enc, integ); !ok {
			continue
		}
		p := suite.Proposal{Encr: enc, KeyBits: int(bits), Integ: integ}
		if ip.PFS != 0 {
			p.DH = ip.PFS.IANA()
		}
		out = append(out, p)
		if ts.Mode == "transport" {
			transport++
		}
	}
	if transport > 0 && transport == len(sets) {
		mode = "transport"
	}
	return out, mode
}

// espAlgorithm maps negotiated ESP transforms to the dataplane's algorithms.
func espAlgorithm(enc wire.EncrID, integ wire.IntegID) (esp.Algorithm, bool) {
	switch {
	case enc == wire.EncrAESGCM16 && integ == wire.IntegNone:
		return esp.AESGCM16, true
	case enc == wire.EncrAESCBC && integ == wire.IntegHMACSHA196:
		return esp.AESCBCSHA1, true
	case enc == wire.EncrAESCBC && integ == wire.IntegHMACSHA2256128:
		return esp.AESCBCSHA256, true
	}
	return 0, false
}

// toIKEIdentity converts a configured identity (identity local ...) to its
// wire form. An address identity uses its prefix's address.
func toIKEIdentity(id config.Identity) (ike.Identity, error) {
	switch id.Type {
	case config.IDAddress:
		return ike.IdentityAddr(id.Prefix.Addr()), nil
	case config.IDFQDN:
		return ike.IdentityFQDN(id.Value), nil
	case config.IDEmail:
		return ike.IdentityEmail(id.Value), nil
	case config.IDKeyID:
		return ike.IdentityKeyID([]byte(id.Value)), nil
	case config.IDDN:
		return ike.IdentityDN(id.Value)
	}
	return ike.Identity{}, fmt.Errorf("identity type %q cannot be sent", id.Type)
}

// fromIKEIdentity converts a peer's wire identity to the model's form so
// that config's match rules can test it.
func fromIKEIdentity(id ike.Identity) config.Identity {
	switch id.Type {
	case wire.IDIPv4Addr, wire.IDIPv6Addr:
		if a, ok := netip.AddrFromSlice(id.Data); ok {
			a = a.Unmap()
			return config.Identity{Type: config.IDAddress, Prefix: netip.PrefixFrom(a, a.BitLen())}
		}
	case wire.IDFQDN:
		return config.Identity{Type: config.IDFQDN, Value: string(id.Data)}
	case wire.IDRFC822:
		return config.Identity{Type: config.IDEmail, Value: string(id.Data)}
	case wire.IDKeyID:
		return config.Identity{Type: config.IDKeyID, Value: string(id.Data)}
	case wire.IDDERASN1DN:
		return config.Identity{Type: config.IDDN, Value: id.String()}
	}
	return config.Identity{Type: config.IdentityType(fmt.Sprintf("type-%d", id.Type))}
}

// localIdentity is the identity a profile sends: `identity local`, or
// (the IOS default for PSK) the local address.
func localIdentity(p *config.Profile, local netip.Addr) (ike.Identity, error) {
	if p.LocalIdentity != nil {
		return toIKEIdentity(*p.LocalIdentity)
	}
	return ike.IdentityAddr(local.Unmap()), nil
}

// pskKeys finds the pre-shared keys of a profile for a peer: the profile's
// `authentication local pre-share key`, else its keyring's matching peer.
func pskKeys(c *config.Config, p *config.Profile, q config.KeyQuery) (local, remote []byte, err error) {
	return pskKeysFor(c, p, q, true, true)
}

// pskKeysFor is pskKeys when only some sides need a key: a key that is not
// needed may be missing (nil) and is then no error.
func pskKeysFor(c *config.Config, p *config.Profile, q config.KeyQuery, needLocal, needRemote bool) (local, remote []byte, err error) {
	var lk, rk config.Secret
	if kr := c.Keyring(p.Keyring); kr != nil {
		if peer := kr.LookupPeer(q); peer != nil {
			lk, rk = peer.Key, peer.Key
			if peer.LocalKey.IsSet() {
				lk = peer.LocalKey
			}
			if peer.RemoteKey.IsSet() {
				rk = peer.RemoteKey
			}
		}
	}
	if p.LocalAuth != nil && p.LocalAuth.Key.IsSet() {
		lk = p.LocalAuth.Key
	}
	for _, ra := range p.RemoteAuth {
		if ra.Method == config.AuthPreShare && ra.Key.IsSet() {
			rk = ra.Key
		}
	}
	if needLocal && !lk.IsSet() || needRemote && !rk.IsSet() {
		return nil, nil, fmt.Errorf("profile %s: no pre-shared key for peer %v", p.Name, q.Address)
	}
	if lk.IsSet() {
		local = []byte(lk.Reveal())
	}
	if rk.IsSet() {
		remote = []byte(rk.Reveal())
	}
	return local, remote, nil
}

// tunnelPlan is what a tunnel interface (or a virtual template cloned for a
// peer) asks of its Child SA and dataplane tunnel.
type tunnelPlan struct {
	Interface *config.Interface // the Tunnel or Virtual-Template
	Mode      dataplane.Mode
	ChildMode ike.Mode
	Overlay6  bool   // IPv6 inner traffic (v6-overlay or ipsec ipv6)
	VRF       string // IVRF (vrf forwarding, or the profile's ivrf)
	FVRF      string
	GREKey    *uint32
	NetworkID uint32
	Proposals []suite.Proposal
	IPsec     *config.IPsecProfile
	Lifetime  time.Duration
	// TunnelMode is the IOS tunnel mode the plan implements: the
	// interface's, or the one `virtual-template N mode auto` chose.
	TunnelMode config.TunnelMode
}

// planTunnel derives a tunnel's encapsulation and Child SA policy from the
// interface's configuration. flexPeer says the peer announced FlexVPN; with
// `virtual-template N mode auto` a peer that did not gets IPsec mode, as a
// strongSwan or other RFC client proposing 0.0.0.0/0 expects.
func planTunnel(c *config.Config, ifc *config.Interface, prof *config.Profile, flexPeer bool) (*tunnelPlan, error) {
	var mode config.TunnelMode
	if prof != nil && prof.VTModeAuto && !flexPeer {
		mode = config.ModeIPsecIPv4
	}
	return planTunnelMode(c, ifc, prof, mode)
}

// planTunnelMode is planTunnel with the tunnel mode given (`virtual-template
// N mode auto`), or the interface's own when mode is empty.
func planTunnelMode(c *config.Config, ifc *config.Interface, prof *config.Profile, mode config.TunnelMode) (*tunnelPlan, error) {
	if ifc == nil {
		return nil, errors.New("no tunnel interface")
	}
	tc := ifc.Tunnel
	if tc == nil {
		tc = &config.TunnelConfig{}
	}
	pl := &tunnelPlan{Interface: ifc, VRF: ifc.VRF, FVRF: tc.VRF, GREKey: tc.Key}
	if prof != nil && prof.IVRF != "" {
		pl.VRF = prof.IVRF
	}
	if ifc.NHRP != nil {
		pl.NetworkID = ifc.NHRP.NetworkID
	}
	if mode == "" {
		mode = tc.EffectiveMode()
	}
	pl.TunnelMode = mode
	switch mode {
	case config.ModeGREIP, config.ModeGREIPv6:
		pl.Mode, pl.ChildMode = dataplane.ModeGRE, ike.ModeTransport
	case config.ModeIPsecIPv4, config.ModeIPsecIPv6:
		pl.Mode, pl.ChildMode = dataplane.ModeIPsec, ike.ModeTunnel
		pl.Overlay6 = mode == config.ModeIPsecIPv6
	case config.ModeIPsecV4OverV6:
		pl.Mode, pl.ChildMode = dataplane.ModeIPsec, ike.ModeTunnel
	case config.ModeIPsecV6OverV4:
		pl.Mode, pl.ChildMode, pl.Overlay6 = dataplane.ModeIPsec, ike.ModeTunnel, true
	default:
		return nil, fmt.Errorf("%s: tunnel mode %s is not supported for IKEv2 sessions", ifc.Name, mode)
	}
	name := "default"
	if tc.Protection != "" {
		name = tc.Protection
	}
	ip := c.IPsecProfile(name)
	if ip == nil {
		return nil, fmt.Errorf("%s: crypto ipsec profile %s does not exist", ifc.Name, name)
	}
	pl.IPsec = ip
	var tsMode string
	pl.Proposals, tsMode = espProposals(c, ip)
	if len(pl.Proposals) == 0 {
		return nil, fmt.Errorf("%s: ipsec profile %s has no transform set the dataplane supports (esp-gcm, esp-aes with esp-sha-hmac or esp-sha256-hmac)", ifc.Name, name)
	}
	_ = tsMode // GRE mode always uses transport mode, IPsec mode tunnel mode (FlexVPN)
	pl.Lifetime = time.Duration(ip.LifetimeSeconds) * time.Second
	if pl.Lifetime == 0 {
		pl.Lifetime = config.DefaultIPsecLifetimeSeconds * time.Second
	}
	return pl, nil
}

// autoTunnelMode is `virtual-template N mode auto`: the tunnel mode a
// responder gives a session, from what the initiator proposed for its
// first Child SA. GRE selectors (every TSi and TSr for IP protocol 47, as
// FlexVPN's GRE mode sends host to host) mean GRE over the outer family;
// otherwise IPsec mode, whose overlay family is the selectors' (IPv6 when
// every selector is IPv6, IPv4 when every one is IPv4, the outer family
// when they mix) and whose transport is the outer family. ok is false when
// there are no selectors to decide by.
func autoTunnelMode(remote netip.Addr, tsi, tsr []ike.TrafficSelector) (mode config.TunnelMode, ok bool) {
	all := append(append([]ike.TrafficSelector(nil), tsi...), tsr...)
	if len(tsi) == 0 || len(tsr) == 0 {
		return "", false
	}
	outer6 := remote.Unmap().Is6()
	gre, v4, v6 := true, 0, 0
	for _, ts := range all {
		gre = gre && ts.Proto == 47
		if ts.Is4() {
			v4++
		} else {
			v6++
		}
	}
	switch {
	case gre && outer6:
		return config.ModeGREIPv6, true
	case gre:
		return config.ModeGREIP, true
	}
	inner6 := outer6
	if v4 == 0 {
		inner6 = true
	} else if v6 == 0 {
		inner6 = false
	}
	switch {
	case outer6 && inner6:
		return config.ModeIPsecIPv6, true
	case outer6:
		return config.ModeIPsecV4OverV6, true
	case inner6:
		return config.ModeIPsecV6OverV4, true
	}
	return config.ModeIPsecIPv4, true
}

// childConfig builds the Child SA policy for a session between local and
// remote (outer addresses). GRE mode protects GRE between the endpoints
// (host-to-host, protocol 47); on a responder the peer's own address may be
// hidden by NAT, so any GRE source is allowed. IPsec mode is any-to-any.
func (pl *tunnelPlan) childConfig(local, remote netip.Addr, responder bool) ike.ChildConfig {
	cc := ike.ChildConfig{
		Name:        pl.Interface.Name,
		Proposals:   pl.Proposals,
		Mode:        pl.ChildMode,
		Lifetime:    pl.Lifetime,
		RekeyMargin: pl.Lifetime / 10,
		Jitter:      pl.Lifetime / 50,
	}
	switch pl.Mode {
	case dataplane.ModeGRE:
		l := ike.TSFromPrefix(netip.PrefixFrom(local.Unmap(), local.Unmap().BitLen()))
		r := ike.TSFromPrefix(netip.PrefixFrom(remote.Unmap(), remote.Unmap().BitLen()))
		if responder {
			l, r = ike.TSAny4, ike.TSAny4
			if local.Unmap().Is6() {
				l, r = ike.TSAny6, ike.TSAny6
			}
		}
		l.Proto, r.Proto = 47, 47
		cc.LocalTS, cc.RemoteTS = []ike.TrafficSelector{l}, []ike.TrafficSelector{r}
	default:
		any := ike.TSAny4
		if pl.Overlay6 {
			any = ike.TSAny6
		}
		cc.LocalTS, cc.RemoteTS = []ike.TrafficSelector{any}, []ike.TrafficSelector{any}
	}
	return cc
}

// profileLifetime is the IKE SA lifetime of a profile.
func profileLifetime(p *config.Profile) time.Duration {
	if p.Lifetime > 0 {
		return time.Duration(p.Lifetime) * time.Second
	}
	return config.DefaultIKELifetime * time.Second
}

// profileDPD returns the liveness interval of a profile, falling back to the
// global `crypto ikev2 dpd`. On-demand DPD still checks periodically here:
// esphub cannot see "no inbound traffic" cheaply from the control side, and
// a check on an idle tunnel is what on-demand does.
func profileDPD(c *config.Config, p *config.Profile) time.Duration {
	d := p.DPD
	if d == nil {
		d = c.IKEv2.DPD
	}
	if d == nil {
		return 0
	}
	return time.Duration(d.Interval) * time.Second
}

// natKeepalive returns the NAT keepalive interval of a profile or the global setting.
func natKeepalive(c *config.Config, p *config.Profile) time.Duration {
	if p.NATKeepalive > 0 {
		return time.Duration(p.NATKeepalive) * time.Second
	}
	return time.Duration(c.IKEv2.NATKeepalive) * time.Second
}
