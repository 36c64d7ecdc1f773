package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// validate checks cross-references and object completeness once the whole
// file is read, so that objects may be referenced before they are defined.
// Every problem points at the line that holds the broken reference.
func (p *parser) validate() {
	cfg := p.cfg
	p.validateBGP()
	errAt := func(pos Pos, format string, args ...any) {
		p.diags = append(p.diags, Diagnostic{Pos: pos, Severity: SeverityError, Msg: fmt.Sprintf(format, args...)})
	}
	for _, pr := range cfg.Proposals {
		validateProposal(pr, errAt)
	}
	p.validateCTS()
	for _, pol := range cfg.Policies {
		if pol.Builtin {
			continue
		}
		if len(pol.Proposals) == 0 {
			errAt(pol.Pos, "crypto ikev2 policy %s: no proposal configured; add `proposal NAME`", pol.Name)
		}
		for i, n := range pol.Proposals {
			if cfg.Proposal(n) == nil {
				pos := pol.Pos
				if i < len(pol.ProposalPos) {
					pos = pol.ProposalPos[i]
				}
				errAt(pos, "crypto ikev2 policy %s: proposal %q is not defined", pol.Name, n)
			}
		}
	}
	for _, kr := range cfg.Keyrings {
		seen := map[string]Pos{}
		for _, pe := range kr.Peers {
			if !pe.Key.IsSet() && !(pe.LocalKey.IsSet() && pe.RemoteKey.IsSet()) {
				errAt(pe.Pos, "crypto ikev2 keyring %s peer %s: no pre-shared-key (need one symmetric key or both local and remote keys)", kr.Name, pe.Name)
			}
			if pe.Address == nil && pe.Hostname == "" && len(pe.Identities) == 0 {
				errAt(pe.Pos, "crypto ikev2 keyring %s peer %s: no address, hostname or identity to look the peer up by", kr.Name, pe.Name)
			}
			// G:957-1117: the same identity cannot appear in two peers.
			for _, id := range pe.Identities {
				k := identityKey(id)
				if prev, ok := seen[k]; ok {
					errAt(id.Pos, "crypto ikev2 keyring %s: identity %s is already used by another peer at %s", kr.Name, identityString(id), prev)
				}
				seen[k] = id.Pos
			}
		}
	}
	for _, pr := range cfg.Profiles {
		p.validateProfile(pr, errAt)
	}
	for _, ip := range cfg.IPsecProfiles {
		if ip.Builtin {
			continue
		}
		found := 0
		for _, ts := range ip.TransformSets {
			if cfg.TransformSet(ts) != nil {
				found++
			}
		}
		for _, ts := range ip.TransformSets {
			if cfg.TransformSet(ts) != nil {
				continue
			}
			pos := ip.Refs["set transform-set "+ts]
			if found == 0 {
				errAt(pos, "crypto ipsec profile %s: transform set %q is not defined", ip.Name, ts)
			} else {
				p.warnf(pos, "crypto ipsec profile %s: transform set %q is not defined; only the defined sets are proposed", ip.Name, ts)
			}
		}
		if len(ip.TransformSets) == 0 && cfg.TransformSet("default") == nil {
			errAt(ip.Pos, "crypto ipsec profile %s: no transform set and the default transform set is disabled; add `set transform-set NAME`", ip.Name)
		}
		if ip.IKEv2Profile != "" && cfg.Profile(ip.IKEv2Profile) == nil {
			errAt(ip.Refs["set ikev2-profile"], "crypto ipsec profile %s: IKEv2 profile %q is not defined", ip.Name, ip.IKEv2Profile)
		}
	}
	for _, a := range cfg.AuthzPolicies {
		if a.Builtin {
			continue
		}
		if a.Pool != "" && cfg.Pool(a.Pool) == nil {
			p.warnf(a.Refs["pool"], "crypto ikev2 authorization policy %s: ip local pool %q is not defined; no address can be assigned from it", a.Name, a.Pool)
		}
		if a.IPv6Pool != "" && cfg.Pool(a.IPv6Pool) == nil {
			p.warnf(a.Refs["ipv6 pool"], "crypto ikev2 authorization policy %s: ipv6 local pool %q is not defined", a.Name, a.IPv6Pool)
		}
		if a.RouteSetACL != "" && cfg.AccessList(a.RouteSetACL) == nil {
			p.warnf(a.Refs["route set access-list"], "crypto ikev2 authorization policy %s: access list %q is not defined; no subnets will be sent", a.Name, a.RouteSetACL)
		} else if acl := cfg.AccessList(a.RouteSetACL); acl != nil && acl.Kind != "standard" {
			p.warnf(a.Refs["route set access-list"], "crypto ikev2 authorization policy %s: access list %q is %s; route set uses only the source of each permit entry (IOS supports standard lists here)", a.Name, a.RouteSetACL, acl.Kind)
		}
		if a.RouteSetIPv6ACL != "" && cfg.AccessList(a.RouteSetIPv6ACL) == nil {
			p.warnf(a.Refs["route set access-list ipv6"], "crypto ikev2 authorization policy %s: IPv6 access list %q is not defined", a.Name, a.RouteSetIPv6ACL)
		}
		if a.AttributeList != "" && cfg.AttributeList(a.AttributeList) == nil {
			errAt(a.Refs["aaa attribute list"], "crypto ikev2 authorization policy %s: aaa attribute list %q is not defined", a.Name, a.AttributeList)
		}
	}
	for _, i := range cfg.Interfaces {
		p.validateInterface(i, errAt)
	}
	for _, r := range cfg.Routes {
		if r.VRF != "" && cfg.VRF(r.VRF) == nil {
			errAt(r.Pos, "ip route vrf %s: VRF %q is not defined", r.VRF, r.VRF)
		}
	}
}

func validateProposal(pr *Proposal, errAt func(Pos, string, ...any)) {
	if pr.Builtin {
		return
	}
	allAEAD, anyAEAD := len(pr.Encryption) > 0, false
	for _, e := range pr.Encryption {
		if e.IsAEAD() {
			anyAEAD = true
		} else {
			allAEAD = false
		}
	}
	switch {
	case len(pr.Encryption) == 0:
		errAt(pr.Pos, "crypto ikev2 proposal %s: Proposal Incomplete: no encryption algorithm", pr.Name)
	case len(pr.Groups) == 0:
		errAt(pr.Pos, "crypto ikev2 proposal %s: Proposal Incomplete: no DH group", pr.Name)
	case allAEAD && len(pr.Integrity) > 0:
		errAt(pr.Pos, "crypto ikev2 proposal %s: integrity is not allowed when AES-GCM is the only encryption; remove the integrity line", pr.Name)
	case !allAEAD && len(pr.Integrity) == 0:
		errAt(pr.Pos, "crypto ikev2 proposal %s: Proposal Incomplete: no integrity algorithm", pr.Name)
	case anyAEAD && len(pr.PRF) == 0:
		errAt(pr.Pos, "crypto ikev2 proposal %s: a prf is mandatory with AES-GCM; add `prf sha256` (or sha384, sha512)", pr.Name)
	}
}

func (p *parser) validateProfile(pr *Profile, errAt func(Pos, string, ...any)) {
	cfg := p.cfg
	name := "crypto ikev2 profile " + pr.Name
	if pr.Keyring != "" && cfg.Keyring(pr.Keyring) == nil {
		errAt(pr.Refs["keyring"], "%s: keyring %q is not defined", name, pr.Keyring)
	}
	for _, m := range pr.MatchCerts {
		if cfg.CertMap(m) == nil {
			errAt(pr.Refs["match certificate "+m], "%s: certificate map %q is not defined", name, m)
		}
	}
	for _, tp := range pr.Trustpoints {
		if cfg.Trustpoint(tp.Name) == nil {
			// A warning, not an error: the seeds' complete examples (G10)
			// reference a trustpoint enrolled outside the shown text.
			p.warnf(tp.Pos, "%s: trustpoint %q is not defined; certificate authentication fails until it is", name, tp.Name)
		}
	}
	if pr.KeyringAAAMangler != "" && cfg.NameMangler(pr.KeyringAAAMangler) == nil {
		errAt(pr.Refs["keyring aaa name-mangler"], "%s: name mangler %q is not defined", name, pr.KeyringAAAMangler)
	}
	for _, a := range pr.AAA {
		if a.Mangler != "" && cfg.NameMangler(a.Mangler) == nil {
			errAt(a.Pos, "%s: name mangler %q is not defined", name, a.Mangler)
		}
		if a.Kind == "authorization group" && a.Name != "" && a.List != "" && cfg.AuthzPolicy(a.Name) == nil && cfg.localAAAList(a.List) {
			p.warnf(a.Pos, "%s: authorization policy %q is not defined; local authorization for it returns no attributes", name, a.Name)
		}
	}
	if v := pr.MatchFVRF; v != "" && v != "any" && cfg.VRF(v) == nil {
		p.warnf(pr.Refs["match fvrf"], "%s: VRF %q is not defined; the profile matches no peer", name, v)
	}
	if v := pr.IVRF; v != "" && v != "global" && cfg.VRF(v) == nil { // `ivrf global` (G:6525): the global table
		p.warnf(pr.Refs["ivrf"], "%s: ivrf %q is not defined", name, v)
	}
	if pr.VirtualTemplate != 0 {
		vt := cfg.VirtualTemplate(pr.VirtualTemplate)
		if vt == nil {
			// A warning: the profile still serves as initiator. D-12: the
			// complete MPLS example (G:4811-4934) references a template it
			// never defines.
			p.warnf(pr.Refs["virtual-template"], "%s: interface Virtual-Template%d is not defined; sessions this profile answers cannot be cloned", name, pr.VirtualTemplate)
		}
	}
	usesPSK := pr.LocalAuth != nil && pr.LocalAuth.Method == AuthPreShare && !pr.LocalAuth.Key.IsSet()
	for _, a := range pr.RemoteAuth {
		if a.Method == AuthPreShare && !a.Key.IsSet() {
			usesPSK = true
		}
	}
	if usesPSK && pr.Keyring == "" && pr.KeyringAAA == "" {
		// A warning: IOS accepts it and G:6608-6859 (complete) has it; the
		// pre-share method then fails for every peer.
		p.warnf(pr.Pos, "%s: pre-share authentication without a key: add `keyring local NAME` or `authentication ... pre-share key KEY`", name)
	}
	usesCert := pr.LocalAuth != nil && (pr.LocalAuth.Method == AuthRSASig || pr.LocalAuth.Method == AuthECDSASig)
	if usesCert && len(pr.Trustpoints) == 0 {
		p.warnf(pr.Pos, "%s: certificate authentication without `pki trustpoint`; the profile cannot authenticate (no fallback to global trustpoints)", name)
	}
	if pr.LocalAuth == nil {
		p.warnf(pr.Pos, "%s: no `authentication local`; the profile is incomplete and will not be used", name)
	}
	if len(pr.RemoteAuth) == 0 {
		p.warnf(pr.Pos, "%s: no `authentication remote`; the profile is incomplete and will not be used", name)
	}
	for _, id := range pr.MatchIdentities {
		if id.Type == IDAny && len(pr.MatchIdentities)+len(pr.MatchCerts) > 1 {
			errAt(id.Pos, "%s: match identity remote any cannot be combined with other identity or certificate matches", name)
		}
	}
}

func (c *Config) localAAAList(list string) bool {
	for _, m := range c.AAA.AuthorizationNetwork {
		if m.Name == list {
			return len(m.Methods) > 0 && m.Methods[0] == "local"
		}
	}
	return false
}

func (p *parser) validateInterface(i *Interface, errAt func(Pos, string, ...any)) {
	cfg := p.cfg
	if i.VRF != "" && cfg.VRF(i.VRF) == nil {
		errAt(i.Refs["vrf forwarding"], "interface %s: VRF %q is not defined", i.Name, i.VRF)
	}
	if i.Unnumbered != "" && cfg.Interface(i.Unnumbered) == nil {
		errAt(i.Refs["ip unnumbered"], "interface %s: ip unnumbered names interface %s, which is not defined", i.Name, i.Unnumbered)
	}
	if i.IPv6Unnumbered != "" && cfg.Interface(i.IPv6Unnumbered) == nil {
		errAt(i.Refs["ipv6 unnumbered"], "interface %s: ipv6 unnumbered names interface %s, which is not defined", i.Name, i.IPv6Unnumbered)
	}
	if t := i.Tunnel; t != nil {
		if t.Protection != "" {
			ip := cfg.IPsecProfile(t.Protection)
			switch {
			case ip == nil && t.Protection == "default":
				errAt(i.Refs["tunnel protection"], "interface %s: the default IPsec profile is disabled (`no crypto ipsec profile default`)", i.Name)
			case ip == nil:
				errAt(i.Refs["tunnel protection"], "interface %s: IPsec profile %q is not defined", i.Name, t.Protection)
			case len(cfg.EffectiveTransformSets(ip)) == 0:
				errAt(i.Refs["tunnel protection"], "interface %s: IPsec profile %q has no usable transform set", i.Name, t.Protection)
			}
		}
		if t.VRF != "" && cfg.VRF(t.VRF) == nil {
			errAt(i.Refs["tunnel vrf"], "interface %s: tunnel VRF %q is not defined", i.Name, t.VRF)
		}
		if pos, ok := i.Refs["tunnel source"]; ok && t.Source != "" && t.Source != "dynamic" && !t.SourceAddr.IsValid() &&
			!linuxIfName(t.Source) && cfg.Interface(t.Source) == nil {
			// A warning: on Linux the source is usually a host interface
			// (eth0) that the configuration need not describe.
			p.warnf(pos, "interface %s: tunnel source interface %s is not configured; esphub uses the host interface of that name", i.Name, t.Source)
		}
		// The outer addresses must be of the family the mode says
		// (gre ip and ipsec ipv4 run over IPv4; gre ipv6, ipsec ipv6 and
		// ipsec ipv6 v4-overlay over IPv6).
		v6 := t.EffectiveMode().TransportIPv6()
		fam := map[bool]string{false: "IPv4", true: "IPv6"}
		for _, ref := range []struct {
			key  string
			addr netip.Addr
		}{{"tunnel destination", t.DestAddr}, {"tunnel source", t.SourceAddr}} {
			if ref.addr.IsValid() && ref.addr.Is6() != v6 {
				errAt(i.Refs[ref.key], "interface %s: %s %s is %s but tunnel mode %s runs over %s", i.Name, ref.key, ref.addr, fam[ref.addr.Is6()], t.EffectiveMode(), fam[v6])
			}
		}
		if i.Kind == KindVirtualTemplate && t.Destination != "" {
			p.warnf(i.Pos, "interface %s: a virtual template takes its tunnel destination from each session; `tunnel destination` is ignored", i.Name)
		}
	}
	if n := i.NHRP; n != nil && n.ShortcutVT != 0 && cfg.VirtualTemplate(n.ShortcutVT) == nil {
		errAt(i.Refs["ip nhrp shortcut"], "interface %s: ip nhrp shortcut names Virtual-Template%d, which is not defined", i.Name, n.ShortcutVT)
	}
	if i.Kind == KindVirtualTemplate && len(i.Addresses) > 0 {
		p.warnf(i.Pos, "interface %s: a virtual template should use ip unnumbered; every cloned Virtual-Access would get the same subnet", i.Name)
	}
}

func identityKey(id Identity) string {
	return fmt.Sprintf("%s|%s|%v|%s", id.Type, strings.ToLower(id.Value), id.Domain, id.Prefix)
}

func identityString(id Identity) string {
	switch id.Type {
	case IDAddress:
		return "address " + id.Prefix.String()
	case IDAny:
		return "any"
	case IDDN:
		return "dn"
	}
	s := string(id.Type) + " "
	if id.Domain {
		s += "domain "
	}
	return s + id.Value
}
