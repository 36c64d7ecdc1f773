package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The `show crypto ...` renderings of configuration objects, laid out as
// IOS prints them (the smart-defaults table G:636-640 and B:631-636). They
// never print keys.

// ShowProposal writes `show crypto ikev2 proposal` for p.
func ShowProposal(w io.Writer, p *Proposal) {
	names := func(n int, f func(int) string) string {
		s := make([]string, n)
		for i := range s {
			s[i] = f(i)
		}
		return strings.Join(s, " ")
	}
	prf := p.EffectivePRF()
	fmt.Fprintf(w, " IKEv2 proposal: %s\n", p.Name)
	fmt.Fprintf(w, "     Encryption : %s\n", names(len(p.Encryption), func(i int) string { return p.Encryption[i].ShowName() }))
	fmt.Fprintf(w, "     Integrity  : %s\n", names(len(p.Integrity), func(i int) string { return p.Integrity[i].ShowName() }))
	fmt.Fprintf(w, "     PRF        : %s\n", names(len(prf), func(i int) string { return prf[i].ShowName() }))
	fmt.Fprintf(w, "     DH Group   : %s\n", names(len(p.Groups), func(i int) string { return p.Groups[i].ShowName() }))
}

// ShowPolicy writes `show crypto ikev2 policy` for p.
func ShowPolicy(w io.Writer, p *Policy) {
	// Labels follow the smart-defaults table (G:638); [B] (B:631-636)
	// prints "Match local" instead of "Match address local".
	fmt.Fprintf(w, " IKEv2 policy: %s\n", p.Name)
	fvrf := p.MatchFVRF
	if fvrf == "" {
		fvrf = "global"
	}
	fmt.Fprintf(w, "      Match fvrf          : %s\n", fvrf)
	if len(p.MatchLocal) == 0 {
		fmt.Fprintf(w, "      Match address local : any\n")
	}
	for _, a := range p.MatchLocal {
		fmt.Fprintf(w, "      Match address local : %s\n", a)
	}
	for _, n := range p.Proposals {
		fmt.Fprintf(w, "      Proposal            : %s\n", n)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ShowProfile writes `show crypto ikev2 profile` for p.
func ShowProfile(w io.Writer, p *Profile) {
	fmt.Fprintf(w, "IKEv2 profile: %s\n", p.Name)
	if p.Description != "" {
		fmt.Fprintf(w, " Description: %s\n", p.Description)
	}
	if p.Shutdown {
		fmt.Fprintf(w, " Shutdown\n")
	}
	fmt.Fprintf(w, " Match criteria:\n")
	fvrf := p.MatchFVRF
	if fvrf == "" {
		fvrf = "global"
	}
	fmt.Fprintf(w, "  Fvrf: %s\n", fvrf)
	var locals []string
	for _, a := range p.MatchLocal {
		locals = append(locals, a.String())
	}
	locals = append(locals, p.MatchLocalIfs...)
	fmt.Fprintf(w, "  Local address/interface: %s\n", orNone(strings.Join(locals, ", ")))
	if len(p.MatchIdentities) == 0 {
		fmt.Fprintf(w, "  Identities: none\n")
	} else {
		fmt.Fprintf(w, "  Identities:\n")
		for _, id := range p.MatchIdentities {
			fmt.Fprintf(w, "   %s\n", identityString(id))
		}
	}
	if len(p.MatchCerts) == 0 {
		fmt.Fprintf(w, "  Certificate maps: none\n")
	} else {
		fmt.Fprintf(w, "  Certificate maps:\n")
		for _, m := range p.MatchCerts {
			fmt.Fprintf(w, "   %s\n", m)
		}
	}
	local := "none"
	if p.LocalIdentity != nil {
		local = identityString(*p.LocalIdentity)
	}
	fmt.Fprintf(w, " Local identity: %s\n", local)
	la := "none"
	if p.LocalAuth != nil {
		la = string(p.LocalAuth.Method)
	}
	fmt.Fprintf(w, " Local authentication method: %s\n", la)
	var ra []string
	for _, a := range p.RemoteAuth {
		ra = append(ra, string(a.Method))
	}
	fmt.Fprintf(w, " Remote authentication method(s): %s\n", orNone(strings.Join(ra, ", ")))
	kr := p.Keyring
	if p.KeyringAAA != "" {
		kr = "aaa " + p.KeyringAAA
	}
	fmt.Fprintf(w, " Keyring: %s\n", orNone(kr))
	var tps []string
	for _, t := range p.Trustpoints {
		s := t.Name
		if t.Usage != "" {
			s += "(" + t.Usage + ")"
		}
		tps = append(tps, s)
	}
	fmt.Fprintf(w, " Trustpoint(s): %s\n", orNone(strings.Join(tps, ", ")))
	fmt.Fprintf(w, " Lifetime: %d seconds\n", p.Lifetime)
	if p.DPD != nil {
		fmt.Fprintf(w, " DPD: interval %d, retry-interval %d, %s\n", p.DPD.Interval, p.DPD.Retry, p.DPD.Mode)
	} else {
		fmt.Fprintf(w, " DPD: disabled\n")
	}
	if p.NATKeepalive != 0 {
		fmt.Fprintf(w, " NAT-keepalive: %d seconds\n", p.NATKeepalive)
	} else {
		fmt.Fprintf(w, " NAT-keepalive: disabled\n")
	}
	fmt.Fprintf(w, " Ivrf: %s\n", orNone(p.IVRF))
	vt, mode := "none", "none"
	if p.VirtualTemplate != 0 {
		vt = strconv.Itoa(p.VirtualTemplate)
		if p.VTModeAuto {
			mode = "auto"
		}
	}
	fmt.Fprintf(w, " Virtual-template: %s\n", vt)
	fmt.Fprintf(w, " mode auto: %s\n", mode)
	for _, a := range p.AAA {
		fmt.Fprintf(w, " AAA %s: %s\n", a.Kind, strings.TrimPrefix(renderProfileAAA(a), "aaa "+a.Kind+" "))
	}
	yn := func(b bool) string {
		if b {
			return "enabled"
		}
		return "disabled"
	}
	fmt.Fprintf(w, " Config-exchange: request %s, set send %s, set accept %s\n", yn(p.ConfigRequest), yn(p.ConfigSetSend), yn(p.ConfigSetAccept))
}

// ShowKeyring writes an IOS-style summary of a keyring. Keys are never
// printed, only which kind is configured.
func ShowKeyring(w io.Writer, k *Keyring) {
	fmt.Fprintf(w, "IKEv2 keyring: %s\n", k.Name)
	for _, p := range k.Peers {
		fmt.Fprintf(w, " Peer: %s\n", p.Name)
		if p.Description != "" {
			fmt.Fprintf(w, "  Description: %s\n", p.Description)
		}
		fmt.Fprintf(w, "  Hostname: %s\n", orNone(p.Hostname))
		addr := "none"
		if p.Address != nil {
			addr = p.Address.String()
		}
		fmt.Fprintf(w, "  Address: %s\n", addr)
		for _, id := range p.Identities {
			fmt.Fprintf(w, "  Identity: %s\n", identityString(id))
		}
		switch {
		case p.Key.IsSet():
			fmt.Fprintf(w, "  Pre-shared key: symmetric\n")
		case p.LocalKey.IsSet() || p.RemoteKey.IsSet():
			fmt.Fprintf(w, "  Pre-shared key: asymmetric (local %v, remote %v)\n", p.LocalKey.IsSet(), p.RemoteKey.IsSet())
		default:
			fmt.Fprintf(w, "  Pre-shared key: none\n")
		}
	}
}

// ShowTransformSet writes `show crypto ipsec transform-set` for t.
func ShowTransformSet(w io.Writer, t *TransformSet) {
	fmt.Fprintf(w, "Transform set %s: { %s  }\n", t.Name, t.TransformString())
	mode := "Tunnel"
	if t.Mode == "transport" {
		mode = "Transport"
	}
	fmt.Fprintf(w, "   will negotiate = { %s,  },\n", mode)
}

// ShowIPsecProfile writes `show crypto ipsec profile` for p, resolving its
// transform sets in c.
func ShowIPsecProfile(w io.Writer, c *Config, p *IPsecProfile) {
	fmt.Fprintf(w, "IPSEC profile %s\n", p.Name)
	if p.IKEv2Profile != "" {
		fmt.Fprintf(w, "        IKEv2 Profile: %s\n", p.IKEv2Profile)
	}
	kb := strconv.Itoa(p.LifetimeKB) + " kilobytes"
	if p.LifetimeKB == 0 {
		kb = "disabled kilobytes"
	}
	fmt.Fprintf(w, "        Security association lifetime: %s/%d seconds\n", kb, p.LifetimeSeconds)
	yn := func(b bool) string {
		if b {
			return "Y"
		}
		return "N"
	}
	fmt.Fprintf(w, "        Responder-Only (Y/N): %s\n", yn(p.ResponderOnly))
	if p.PFS != 0 {
		fmt.Fprintf(w, "        PFS (Y/N): Y\n        DH group:  group%d\n", p.PFS)
	} else {
		fmt.Fprintf(w, "        PFS (Y/N): N\n")
	}
	if p.MixedMode {
		fmt.Fprintf(w, "        Mixed-mode : Enabled\n")
	}
	fmt.Fprintf(w, "        Transform sets={\n")
	for _, t := range c.EffectiveTransformSets(p) {
		fmt.Fprintf(w, "                %s:  { %s  } ,\n", t.Name, t.TransformString())
	}
	fmt.Fprintf(w, "        }\n")
}

// ShowAuthzPolicy writes `show crypto ikev2 authorization policy` for a.
func ShowAuthzPolicy(w io.Writer, a *AuthorizationPolicy) {
	fmt.Fprintf(w, "IKEv2 Authorization policy: %s\n", a.Name)
	if a.Pool != "" {
		fmt.Fprintf(w, "  pool: %s\n", a.Pool)
	}
	if a.IPv6Pool != "" {
		fmt.Fprintf(w, "  ipv6 pool: %s\n", a.IPv6Pool)
	}
	if len(a.DNS) > 0 {
		fmt.Fprintf(w, "  dns: %s\n", addrList(a.DNS))
	}
	if a.DefDomain != "" {
		fmt.Fprintf(w, "  def-domain: %s\n", a.DefDomain)
	}
	if a.RouteSetInterface {
		if a.RouteSetInterfaceName != "" {
			fmt.Fprintf(w, "  route set interface %s\n", a.RouteSetInterfaceName)
		} else {
			fmt.Fprintf(w, "  route set interface\n")
		}
	}
	if a.RouteSetACL != "" {
		fmt.Fprintf(w, "  route set access-list: %s\n", a.RouteSetACL)
	}
	if a.RouteSetIPv6ACL != "" {
		fmt.Fprintf(w, "  route set access-list ipv6: %s\n", a.RouteSetIPv6ACL)
	}
	for _, r := range a.RouteSetLocal {
		fmt.Fprintf(w, "  %s\n", routeSpecLine("local", r))
	}
	for _, r := range a.RouteSetRemote {
		fmt.Fprintf(w, "  %s\n", routeSpecLine("remote", r))
	}
	if a.RouteAccept != nil {
		fmt.Fprintf(w, "  route accept any tag: %d distance: %d\n", a.RouteAccept.Tag, a.RouteAccept.Distance)
	}
	if a.SessionLifetime != 0 {
		fmt.Fprintf(w, "  session-lifetime: %d seconds\n", a.SessionLifetime)
	}
}
