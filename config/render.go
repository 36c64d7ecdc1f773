package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// RunningConfig renders c as IOS running-config text. With all false it
// is `show running-config`: smart defaults the configuration did not touch
// are left out, and Parse(RunningConfig(false)) gives back a model Equal
// to c. With all true it is `show running-config all`: the defaults are
// written out too.
//
// The text contains the pre-shared keys, as a running-config does: treat
// it as secret.
func (c *Config) RunningConfig(all bool) string {
	w := &writer{}
	if c.Hostname != "" {
		w.line("hostname %s", q(c.Hostname))
		w.bang()
	}
	c.renderAAA(w)
	for _, v := range c.VRFs {
		renderVRF(w, v)
	}
	for _, tp := range c.Trustpoints {
		renderTrustpoint(w, tp)
	}
	for _, m := range c.CertMaps {
		renderCertMap(w, m)
	}
	c.renderIKEv2Global(w)
	for _, k := range c.DisabledDefaults {
		w.line("no %s", k)
	}
	if len(c.DisabledDefaults) > 0 {
		w.bang()
	}
	for _, p := range c.Proposals {
		if !p.Builtin || all {
			renderProposal(w, p)
		}
	}
	for _, p := range c.Policies {
		if !p.Builtin || all {
			renderPolicy(w, p)
		}
	}
	for _, k := range c.Keyrings {
		renderKeyring(w, k)
	}
	for _, m := range c.NameManglers {
		renderMangler(w, m)
	}
	for _, a := range c.AuthzPolicies {
		if !a.Builtin || all {
			renderAuthz(w, a)
		}
	}
	for _, p := range c.Profiles {
		renderProfile(w, p)
	}
	for _, f := range c.FlexVPNClients {
		renderFlexClient(w, f)
	}
	for _, t := range c.TransformSets {
		if !t.Builtin || all {
			renderTransformSet(w, t)
		}
	}
	for _, p := range c.IPsecProfiles {
		if !p.Builtin || all {
			renderIPsecProfile(w, p)
		}
	}
	for _, i := range c.Interfaces {
		renderInterface(w, i)
	}
	for _, p := range c.Pools {
		renderPool(w, p)
	}
	if len(c.Pools) > 0 {
		w.bang()
	}
	for _, r := range c.Routes {
		renderRoute(w, r)
	}
	if len(c.Routes) > 0 {
		w.bang()
	}
	for _, a := range c.AccessLists {
		renderACL(w, a)
	}
	for _, m := range c.SGTMaps {
		if m.VRF != "" {
			w.line("cts role-based sgt-map vrf %s %s sgt %d", q(m.VRF), m.Prefix, m.SGT)
		} else {
			w.line("cts role-based sgt-map %s sgt %d", m.Prefix, m.SGT)
		}
	}
	if len(c.SGTMaps) > 0 {
		w.bang()
	}
	renderBGP(w, c.BGP)
	renderCTS(w, c)
	w.line("end")
	return w.b.String()
}

type writer struct{ b strings.Builder }

func (w *writer) line(format string, args ...any) {
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

func (w *writer) bang() { w.b.WriteString("!\n") }

// q quotes a word that would not survive splitting as one word.
func q(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\v\f\r") || strings.HasPrefix(s, `"`) {
		return `"` + s + `"`
	}
	return s
}

func (c *Config) renderAAA(w *writer) {
	a := c.AAA
	if a.NewModel {
		w.line("aaa new-model")
	}
	for _, m := range a.AuthorizationNetwork {
		parts := make([]string, len(m.Methods))
		for i, x := range m.Methods {
			if g, ok := strings.CutPrefix(x, "group "); ok {
				parts[i] = "group " + q(g)
			} else {
				parts[i] = q(x)
			}
		}
		w.line("aaa authorization network %s %s", q(m.Name), strings.Join(parts, " "))
	}
	for _, l := range a.AttributeLists {
		w.line("aaa attribute list %s", q(l.Name))
		for _, at := range l.Attributes {
			if strings.Contains(at.Value, `"`) {
				w.line(" attribute type %s %s", q(at.Type), at.Value)
			} else {
				w.line(" attribute type %s %s", q(at.Type), `"`+at.Value+`"`)
			}
		}
	}
	if a.NewModel || len(a.AuthorizationNetwork) > 0 || len(a.AttributeLists) > 0 {
		w.bang()
	}
}

func renderVRF(w *writer, v *VRF) {
	if v.Legacy {
		w.line("ip vrf %s", q(v.Name))
	} else {
		w.line("vrf definition %s", q(v.Name))
	}
	if v.Description != "" {
		w.line(" description %s", v.Description)
	}
	if v.RD != "" {
		w.line(" rd %s", v.RD)
	}
	for _, rt := range v.RTExport {
		w.line(" route-target export %s", rt)
	}
	for _, rt := range v.RTImport {
		w.line(" route-target import %s", rt)
	}
	for _, af := range v.AddressFamilies {
		w.line(" address-family %s", af)
		w.line(" exit-address-family")
	}
	w.bang()
}

func renderTrustpoint(w *writer, tp *Trustpoint) {
	w.line("crypto pki trustpoint %s", q(tp.Name))
	if tp.EnrollmentURL != "" {
		w.line(" enrollment url %s", tp.EnrollmentURL)
	}
	if tp.SubjectName != "" {
		w.line(" subject-name %s", tp.SubjectName)
	}
	if len(tp.RevocationCheck) > 0 {
		w.line(" revocation-check %s", strings.Join(tp.RevocationCheck, " "))
	}
	if tp.Fingerprint != "" {
		w.line(" fingerprint %s", q(tp.Fingerprint))
	}
	if tp.RSAKeypair != "" {
		w.line(" rsakeypair %s", tp.RSAKeypair)
	}
	for _, o := range tp.Other {
		w.line(" %s", o)
	}
	w.bang()
}

func renderCertMap(w *writer, m *CertificateMap) {
	for _, e := range m.Entries {
		w.line("crypto pki certificate map %s %d", q(m.Name), e.Seq)
		for _, r := range e.Rules {
			w.line(" %s %s %s", r.Field, r.Op, r.Value)
		}
		w.bang()
	}
}

func (c *Config) renderIKEv2Global(w *writer) {
	g := c.IKEv2
	n := len(w.b.String())
	if g.Window != 5 {
		w.line("crypto ikev2 window %d", g.Window)
	}
	if g.DPD != nil {
		w.line("crypto ikev2 dpd %d %d %s", g.DPD.Interval, g.DPD.Retry, g.DPD.Mode)
	}
	if g.NATKeepalive != 0 {
		w.line("crypto ikev2 nat keepalive %d", g.NATKeepalive)
	}
	if g.CookieChallenge != nil {
		w.line("crypto ikev2 cookie-challenge %d", *g.CookieChallenge)
	}
	if g.MaxSA != 0 {
		w.line("crypto ikev2 limit max-sa %d", g.MaxSA)
	}
	for _, l := range g.MaxInNegotiation {
		if l.Direction != "" {
			w.line("crypto ikev2 limit max-in-negotiation-sa %d %s", l.Limit, l.Direction)
		} else {
			w.line("crypto ikev2 limit max-in-negotiation-sa %d", l.Limit)
		}
	}
	if g.Fragmentation != nil {
		if g.Fragmentation.MTU != 0 {
			w.line("crypto ikev2 fragmentation mtu %d", g.Fragmentation.MTU)
		} else {
			w.line("crypto ikev2 fragmentation")
		}
	}
	for _, r := range g.RedirectGateway {
		w.line("crypto ikev2 redirect gateway %s", r)
	}
	if g.RedirectClient != nil {
		if g.RedirectClient.MaxRedirects != 0 {
			w.line("crypto ikev2 redirect client max-redirects %d", g.RedirectClient.MaxRedirects)
		} else {
			w.line("crypto ikev2 redirect client")
		}
	}
	if g.HTTPURLCert {
		w.line("crypto ikev2 http-url cert")
	}
	if g.DiagnoseErrors != 0 {
		w.line("crypto ikev2 diagnose error %d", g.DiagnoseErrors)
	}
	if g.CTSSGT {
		if g.CTSSGTLayout != "" {
			w.line("crypto ikev2 cts sgt cmd-layout %s", g.CTSSGTLayout)
		} else {
			w.line("crypto ikev2 cts sgt")
		}
	}
	if g.DisconnectRevokedPeers {
		w.line("crypto ikev2 disconnect-revoked-peers")
	}
	if len(w.b.String()) != n {
		w.bang()
	}
	if cl := g.Cluster; cl != nil {
		w.line("crypto ikev2 cluster")
		for _, o := range cl.Other {
			w.line(" %s", o)
		}
		if cl.SlaveMaxSession != 0 {
			w.line(" slave max-session %d", cl.SlaveMaxSession)
		}
		for _, m := range cl.Members {
			w.line(" member %s", m)
		}
		if cl.Shutdown {
			w.line(" shutdown")
		}
		w.bang()
	}
}

func joinAlg[T interface{ String() string }](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return strings.Join(s, " ")
}

func renderProposal(w *writer, p *Proposal) {
	w.line("crypto ikev2 proposal %s", q(p.Name))
	if len(p.Encryption) > 0 {
		w.line(" encryption %s", joinAlg(p.Encryption))
	}
	if len(p.Integrity) > 0 {
		w.line(" integrity %s", joinAlg(p.Integrity))
	}
	if len(p.PRF) > 0 {
		w.line(" prf %s", joinAlg(p.PRF))
	}
	if len(p.Groups) > 0 {
		g := make([]string, len(p.Groups))
		for i, x := range p.Groups {
			g[i] = strconv.Itoa(int(x))
		}
		w.line(" group %s", strings.Join(g, " "))
	}
	w.bang()
}

func renderPolicy(w *writer, p *Policy) {
	w.line("crypto ikev2 policy %s", q(p.Name))
	if p.MatchFVRF != "" {
		w.line(" match fvrf %s", q(p.MatchFVRF))
	} else if p.Name == "default" {
		// the built-in default matches any FVRF; say that this one does not
		w.line(" no match fvrf")
	}
	for _, a := range p.MatchLocal {
		w.line(" match address local %s", a)
	}
	for _, n := range p.Proposals {
		w.line(" proposal %s", q(n))
	}
	w.bang()
}

func renderSecret(s Secret) string {
	switch {
	case s.Encrypted:
		return "6 " + q(s.value)
	case s.Hex:
		return "hex " + q(s.value)
	}
	if s.value == "0" || s.value == "6" || s.value == "hex" || strings.EqualFold(s.value, "local") || strings.EqualFold(s.value, "remote") {
		return "0 " + q(s.value)
	}
	return q(s.value)
}

func renderIdentity(id Identity) string {
	switch id.Type {
	case IDAny:
		return "any"
	case IDDN:
		return "dn"
	case IDAddress:
		a := id.Prefix.Addr()
		if id.MaskForm {
			return fmt.Sprintf("address %s %s", a, maskOf(id.Prefix.Bits()))
		}
		if id.Prefix.Bits() == a.BitLen() {
			return "address " + a.String()
		}
		return "address " + id.Prefix.String()
	}
	s := string(id.Type) + " "
	if id.Domain {
		s += "domain "
	}
	return s + q(id.Value)
}

func renderKeyring(w *writer, k *Keyring) {
	w.line("crypto ikev2 keyring %s", q(k.Name))
	for _, p := range k.Peers {
		w.line(" peer %s", q(p.Name))
		if p.Description != "" {
			w.line("  description %s", p.Description)
		}
		if p.Hostname != "" {
			w.line("  hostname %s", q(p.Hostname))
		}
		if p.Address != nil {
			a := *p.Address
			switch {
			case a.Addr().Is4():
				w.line("  address %s %s", a.Addr(), maskOf(a.Bits()))
			default:
				w.line("  address %s", a)
			}
		}
		for _, id := range p.Identities {
			w.line("  identity %s", renderIdentity(id))
		}
		if p.Key.IsSet() {
			w.line("  pre-shared-key %s", renderSecret(p.Key))
		}
		if p.LocalKey.IsSet() {
			w.line("  pre-shared-key local %s", renderSecret(p.LocalKey))
		}
		if p.RemoteKey.IsSet() {
			w.line("  pre-shared-key remote %s", renderSecret(p.RemoteKey))
		}
	}
	w.bang()
}

func renderMangler(w *writer, m *NameMangler) {
	w.line("crypto ikev2 name-mangler %s", q(m.Name))
	if m.FQDN != "" {
		w.line(" fqdn %s", m.FQDN)
	}
	if m.Email != "" {
		w.line(" email %s", m.Email)
	}
	if m.DN != "" {
		w.line(" dn %s", m.DN)
	}
	switch m.EAP {
	case "all":
		w.line(" eap all")
	case "dn":
		w.line(" eap dn %s", m.EAPDN)
	case "prefix", "suffix":
		w.line(" eap %s delimiter %s", m.EAP, m.EAPDelimiter)
	}
	w.bang()
}

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

func routeSpecLine(kind string, r RouteSpec) string {
	var s string
	if r.Prefix.Addr().Is4() {
		s = fmt.Sprintf("route set %s ipv4 %s %s", kind, r.Prefix.Addr(), maskOf(r.Prefix.Bits()))
	} else {
		s = fmt.Sprintf("route set %s ipv6 %s", kind, r.Prefix)
	}
	if r.Tag != 0 {
		s += fmt.Sprintf(" tag %d", r.Tag)
	}
	if r.Distance != 0 {
		s += fmt.Sprintf(" distance %d", r.Distance)
	}
	return s
}

func renderAuthz(w *writer, a *AuthorizationPolicy) {
	w.line("crypto ikev2 authorization policy %s", q(a.Name))
	if a.Pool != "" {
		w.line(" pool %s", q(a.Pool))
	}
	if a.IPv6Pool != "" {
		w.line(" ipv6 pool %s", q(a.IPv6Pool))
	}
	if a.DHCPServer != "" {
		w.line(" dhcp server %s", q(a.DHCPServer))
	}
	if a.DHCPTimeout != 0 {
		w.line(" dhcp timeout %d", a.DHCPTimeout)
	}
	if a.DHCPGiaddr.IsValid() {
		w.line(" dhcp giaddr %s", a.DHCPGiaddr)
	}
	if len(a.DNS) > 0 {
		w.line(" dns %s", addrList(a.DNS))
	}
	if len(a.IPv6DNS) > 0 {
		w.line(" ipv6 dns %s", addrList(a.IPv6DNS))
	}
	if len(a.WINS) > 0 {
		w.line(" wins %s", addrList(a.WINS))
	}
	if a.Netmask.IsValid() {
		w.line(" netmask %s", a.Netmask)
	}
	if a.Banner != "" {
		w.line(" banner %s", a.Banner)
	}
	if a.ConfigURL != "" {
		w.line(" configuration url %s", q(a.ConfigURL))
	}
	if a.ConfigVersion != 0 {
		w.line(" configuration version %d", a.ConfigVersion)
	}
	if a.DefDomain != "" {
		w.line(" def-domain %s", q(a.DefDomain))
	}
	for _, s := range a.SplitDNS {
		w.line(" split-dns %s", q(s))
	}
	for _, s := range a.BackupGateways {
		w.line(" backup-gateway %s", q(s))
	}
	if a.SmartcardDisconnect {
		w.line(" smartcard-removal-disconnect")
	}
	if a.IncludeLocalLAN {
		w.line(" include-local-lan")
	}
	if a.PFS {
		w.line(" pfs")
	}
	if a.SessionLifetime != 0 {
		w.line(" session-lifetime %d", a.SessionLifetime)
	}
	if a.FlowLimit != nil {
		w.line(" ipsec flow-limit %d", *a.FlowLimit)
	}
	if a.AttributeList != "" {
		w.line(" aaa attribute list %s", q(a.AttributeList))
	}
	switch {
	case a.RouteSetInterface && a.RouteSetInterfaceName != "":
		w.line(" route set interface %s", a.RouteSetInterfaceName)
	case a.RouteSetInterface:
		w.line(" route set interface")
	case a.Name == "default":
		w.line(" no route set interface")
	}
	if a.RouteSetACL != "" {
		w.line(" route set access-list %s", q(a.RouteSetACL))
	}
	if a.RouteSetIPv6ACL != "" {
		w.line(" route set access-list ipv6 %s", q(a.RouteSetIPv6ACL))
	}
	for _, r := range a.RouteSetLocal {
		w.line(" %s", routeSpecLine("local", r))
	}
	for _, r := range a.RouteSetRemote {
		w.line(" %s", routeSpecLine("remote", r))
	}
	switch {
	case a.RouteAccept != nil:
		w.line(" route accept any tag %d distance %d", a.RouteAccept.Tag, a.RouteAccept.Distance)
	case a.Name == "default":
		w.line(" no route accept any")
	}
	for _, r := range a.RouteRedistribute {
		w.line(" route redistribute %s", r)
	}
	w.bang()
}

func renderAuth(dir string, a Auth) string {
	s := fmt.Sprintf("authentication %s %s", dir, a.Method)
	if a.Key.IsSet() {
		s += " key " + renderSecret(a.Key)
	}
	for _, o := range a.Options {
		s += " " + q(o)
	}
	return s
}

func renderProfile(w *writer, p *Profile) {
	w.line("crypto ikev2 profile %s", q(p.Name))
	if p.Description != "" {
		w.line(" description %s", p.Description)
	}
	for _, id := range p.MatchIdentities {
		w.line(" match identity remote %s", renderIdentity(id))
	}
	for _, m := range p.MatchCerts {
		w.line(" match certificate %s", q(m))
	}
	if p.MatchFVRF != "" {
		w.line(" match fvrf %s", q(p.MatchFVRF))
	}
	for _, a := range p.MatchLocal {
		w.line(" match address local %s", a)
	}
	for _, i := range p.MatchLocalIfs {
		w.line(" match address local interface %s", i)
	}
	if p.LocalIdentity != nil {
		w.line(" identity local %s", renderIdentity(*p.LocalIdentity))
	}
	if p.LocalAuth != nil {
		w.line(" %s", renderAuth("local", *p.LocalAuth))
	}
	for _, a := range p.RemoteAuth {
		w.line(" %s", renderAuth("remote", a))
	}
	if p.Keyring != "" {
		w.line(" keyring local %s", q(p.Keyring))
	}
	if p.KeyringAAA != "" {
		s := " keyring aaa " + q(p.KeyringAAA)
		if p.KeyringAAAMangler != "" {
			s += " name-mangler " + q(p.KeyringAAAMangler)
		}
		if p.KeyringAAAPassword.IsSet() {
			s += " password " + q(p.KeyringAAAPassword.value)
		}
		w.line("%s", s)
	} else if p.KeyringAAAMangler != "" {
		w.line(" name-mangler %s", q(p.KeyringAAAMangler))
	}
	for _, t := range p.Trustpoints {
		if t.Usage != "" {
			w.line(" pki trustpoint %s %s", q(t.Name), t.Usage)
		} else {
			w.line(" pki trustpoint %s", q(t.Name))
		}
	}
	if p.DPD != nil {
		w.line(" dpd %d %d %s", p.DPD.Interval, p.DPD.Retry, p.DPD.Mode)
	}
	if p.NATKeepalive != 0 {
		w.line(" nat keepalive %d", p.NATKeepalive)
	}
	if p.Lifetime != DefaultIKELifetime {
		w.line(" lifetime %d", p.Lifetime)
	}
	if p.NoLifetimeCertificate {
		w.line(" no lifetime certificate")
	}
	for _, a := range p.AAA {
		w.line(" %s", renderProfileAAA(a))
	}
	if !p.ConfigRequest {
		w.line(" no config-exchange request")
	}
	if !p.ConfigSetSend {
		w.line(" no config-exchange set send")
	}
	if !p.ConfigSetAccept {
		w.line(" no config-exchange set accept")
	}
	if p.ConfigModeSet {
		w.line(" config-mode set")
	}
	if p.IVRF != "" {
		w.line(" ivrf %s", q(p.IVRF))
	}
	if p.RedirectGatewayAuth {
		w.line(" redirect gateway auth")
	}
	if p.InitialContactForce {
		w.line(" initial-contact force")
	}
	if p.Reconnect != nil {
		w.line(" reconnect timeout %d", *p.Reconnect)
	}
	if p.VirtualTemplate != 0 {
		if p.VTModeAuto {
			w.line(" virtual-template %d mode auto", p.VirtualTemplate)
		} else {
			w.line(" virtual-template %d", p.VirtualTemplate)
		}
	}
	if p.Shutdown {
		w.line(" shutdown")
	}
	w.bang()
}

func renderProfileAAA(a ProfileAAA) string {
	var b strings.Builder
	b.WriteString("aaa ")
	b.WriteString(a.Kind)
	switch a.Kind {
	case "accounting":
		if a.Method != "" {
			b.WriteString(" " + a.Method)
		}
		b.WriteString(" " + q(a.List))
		return b.String()
	case "authentication":
		b.WriteString(" " + a.Method + " " + q(a.List))
		return b.String()
	}
	if a.Override {
		b.WriteString(" override")
	}
	b.WriteString(" " + a.Method)
	if a.Cached {
		b.WriteString(" cached")
		return b.String()
	}
	b.WriteString(" list " + q(a.List))
	if a.Name != "" {
		b.WriteString(" " + q(a.Name))
	}
	if a.Mangler != "" {
		b.WriteString(" name-mangler " + q(a.Mangler))
	}
	if a.Password.IsSet() {
		b.WriteString(" password " + q(a.Password.value))
	}
	return b.String()
}

func renderFlexClient(w *writer, f *FlexVPNClient) {
	w.line("crypto ikev2 client flexvpn %s", q(f.Name))
	for _, p := range f.Peers {
		s := fmt.Sprintf(" peer %d ", p.Seq)
		if p.FQDN != "" {
			s += "fqdn " + q(p.FQDN)
		} else {
			s += p.Address.String()
		}
		for _, o := range p.Options {
			s += " " + q(o)
		}
		w.line("%s", s)
	}
	if f.PeerReactivate {
		w.line(" peer reactivate")
	}
	for _, s := range f.Sources {
		w.line(" source %s", s)
	}
	for _, i := range f.ClientInside {
		w.line(" client inside %s", i)
	}
	if f.ClientConnect != "" {
		w.line(" client connect %s", f.ClientConnect)
	}
	if f.Connect != "" {
		w.line(" connect %s", f.Connect)
	}
	if f.BackupGroup != "" {
		w.line(" backup group %s", f.BackupGroup)
	}
	w.bang()
}

// TransformString is the transform list as written after the set's name,
// e.g. "esp-gcm 256" or "esp-aes esp-sha-hmac".
func (t *TransformSet) TransformString() string {
	s := t.Cipher.String()
	if t.CipherBits != 0 {
		s += " " + strconv.Itoa(t.CipherBits)
	}
	if t.Integrity != ESPNone {
		s += " " + t.Integrity.String()
	}
	return s
}

func renderTransformSet(w *writer, t *TransformSet) {
	w.line("crypto ipsec transform-set %s %s", q(t.Name), t.TransformString())
	if t.Mode != "tunnel" {
		w.line(" mode %s", t.Mode)
	}
	w.bang()
}

func renderIPsecProfile(w *writer, p *IPsecProfile) {
	w.line("crypto ipsec profile %s", q(p.Name))
	if p.Description != "" {
		w.line(" description %s", p.Description)
	}
	if len(p.TransformSets) > 0 {
		ts := make([]string, len(p.TransformSets))
		for i, t := range p.TransformSets {
			ts[i] = q(t)
		}
		w.line(" set transform-set %s", strings.Join(ts, " "))
	} else if p.Name == "default" {
		w.line(" no set transform-set")
	}
	if p.LifetimeSeconds != DefaultIPsecLifetimeSeconds {
		w.line(" set security-association lifetime seconds %d", p.LifetimeSeconds)
	}
	switch {
	case p.LifetimeKB == 0:
		w.line(" set security-association lifetime kilobytes disable")
	case p.LifetimeKB != DefaultIPsecLifetimeKB:
		w.line(" set security-association lifetime kilobytes %d", p.LifetimeKB)
	}
	if p.ReplayWindow != 0 {
		w.line(" set security-association replay window-size %d", p.ReplayWindow)
	}
	if p.ReplayDisable {
		w.line(" set security-association replay disable")
	}
	if p.PFS != 0 {
		w.line(" set pfs group%d", p.PFS)
	}
	if p.IKEv2Profile != "" {
		w.line(" set ikev2-profile %s", q(p.IKEv2Profile))
	}
	if p.MixedMode {
		w.line(" set mixed-mode")
	}
	if p.ReverseRoute {
		if p.ReverseRouteTag != 0 {
			w.line(" set reverse-route tag %d", p.ReverseRouteTag)
		} else {
			w.line(" set reverse-route")
		}
	}
	if p.ResponderOnly {
		w.line(" responder-only")
	}
	w.bang()
}

func renderInterface(w *writer, i *Interface) {
	if i.TemplateType != "" {
		w.line("interface %s type %s", i.Name, i.TemplateType)
	} else {
		w.line("interface %s", i.Name)
	}
	if i.Description != "" {
		w.line(" description %s", i.Description)
	}
	if i.Encapsulation != "" {
		w.line(" encapsulation %s", i.Encapsulation)
	}
	if i.VRF != "" {
		w.line(" vrf forwarding %s", q(i.VRF))
	}
	for k, a := range i.Addresses {
		if k < len(i.Secondary) && i.Secondary[k] {
			w.line(" ip address %s %s secondary", a.Addr(), maskOf(a.Bits()))
		} else {
			w.line(" ip address %s %s", a.Addr(), maskOf(a.Bits()))
		}
	}
	if i.AddressNegotiated {
		w.line(" ip address negotiated")
	}
	if i.Unnumbered != "" {
		w.line(" ip unnumbered %s", i.Unnumbered)
	}
	if i.IPv6Enable {
		w.line(" ipv6 enable")
	}
	for _, a := range i.IPv6Addresses {
		w.line(" ipv6 address %s", a)
	}
	if i.IPv6Unnumbered != "" {
		w.line(" ipv6 unnumbered %s", i.IPv6Unnumbered)
	}
	if i.MTU != 0 {
		w.line(" ip mtu %d", i.MTU)
	}
	if i.TCPAdjustMSS != 0 {
		w.line(" ip tcp adjust-mss %d", i.TCPAdjustMSS)
	}
	if n := i.NHRP; n != nil {
		ip := "ip"
		if n.IPv6 {
			ip = "ipv6"
		}
		if n.NetworkID != 0 {
			w.line(" %s nhrp network-id %d", ip, n.NetworkID)
		}
		if n.Shortcut {
			if n.ShortcutVT != 0 {
				w.line(" %s nhrp shortcut virtual-template %d", ip, n.ShortcutVT)
			} else {
				w.line(" %s nhrp shortcut", ip)
			}
		}
		if n.HoldTime != 0 {
			w.line(" %s nhrp holdtime %d", ip, n.HoldTime)
		}
		if n.Redirect {
			if n.RedirectTimeout != 0 {
				w.line(" %s nhrp redirect timeout %d", ip, n.RedirectTimeout)
			} else {
				w.line(" %s nhrp redirect", ip)
			}
		}
	}
	if i.CTSSGT != 0 {
		w.line(" cts sgt %d", i.CTSSGT)
	}
	if m := i.CTSManual; m != nil {
		w.line(" cts manual")
		if m.NoPropagate {
			w.line("  no propagate sgt")
		}
		if m.StaticSGT != 0 {
			if m.Trusted {
				w.line("  policy static sgt %d trusted", m.StaticSGT)
			} else {
				w.line("  policy static sgt %d", m.StaticSGT)
			}
		}
	}
	if i.MPLSNHRP {
		w.line(" mpls nhrp")
	}
	if i.MPLSBGPForwarding {
		w.line(" mpls bgp forwarding")
	}
	if t := i.Tunnel; t != nil {
		if t.Source != "" {
			w.line(" tunnel source %s", t.Source)
		}
		if t.Mode != "" {
			w.line(" tunnel mode %s", t.Mode)
		}
		if t.Destination != "" {
			w.line(" tunnel destination %s", t.Destination)
		}
		if t.VRF != "" {
			w.line(" tunnel vrf %s", q(t.VRF))
		}
		if t.Key != nil {
			w.line(" tunnel key %d", *t.Key)
		}
		if t.Protection != "" {
			if t.ProtectionAlias {
				w.line(" tunnel protection ipsec-profile %s", q(t.Protection))
			} else {
				w.line(" tunnel protection ipsec profile %s", q(t.Protection))
			}
		}
	}
	if i.Shutdown {
		w.line(" shutdown")
	}
	w.bang()
}

func renderPool(w *writer, p *LocalPool) {
	if p.IPv6 {
		w.line("ipv6 local pool %s %s %d", q(p.Name), p.Prefix, p.AssignLen)
		return
	}
	for _, r := range p.Ranges {
		if r.First == r.Last {
			w.line("ip local pool %s %s", q(p.Name), r.First)
		} else {
			w.line("ip local pool %s %s %s", q(p.Name), r.First, r.Last)
		}
	}
}

func renderRoute(w *writer, r *StaticRoute) {
	var b strings.Builder
	if r.Prefix.Addr().Is4() {
		b.WriteString("ip route ")
		if r.VRF != "" {
			b.WriteString("vrf " + q(r.VRF) + " ")
		}
		fmt.Fprintf(&b, "%s %s", r.Prefix.Addr(), maskOf(r.Prefix.Bits()))
	} else {
		b.WriteString("ipv6 route ")
		if r.VRF != "" {
			b.WriteString("vrf " + q(r.VRF) + " ")
		}
		b.WriteString(r.Prefix.String())
	}
	if r.Interface != "" {
		b.WriteString(" " + r.Interface)
	}
	if r.NextHop.IsValid() {
		b.WriteString(" " + r.NextHop.String())
	}
	if r.Distance != 0 {
		fmt.Fprintf(&b, " %d", r.Distance)
	}
	if r.Tag != 0 {
		fmt.Fprintf(&b, " tag %d", r.Tag)
	}
	if r.Name != "" {
		b.WriteString(" name " + q(r.Name))
	}
	if r.Permanent {
		b.WriteString(" permanent")
	}
	w.line("%s", b.String())
}

func (a ACLAddr) render() string {
	switch {
	case a.Any:
		return "any"
	case a.Wildcard.IsValid():
		return a.Addr.String() + " " + a.Wildcard.String()
	case a.Prefix.IsValid() && a.Prefix.Addr().Is6() && a.Prefix.Bits() != 128:
		return a.Prefix.String()
	default:
		return "host " + a.Addr.String()
	}
}

func renderACL(w *writer, a *AccessList) {
	entry := func(e ACLEntry) string {
		s := "deny"
		if e.Permit {
			s = "permit"
		}
		if e.Protocol != "" {
			s += " " + q(e.Protocol)
		}
		s += " " + e.Source.render()
		if e.Protocol != "" {
			s += " " + e.Dest.render()
		}
		for _, r := range e.Rest {
			s += " " + q(r)
		}
		return s
	}
	if a.Numbered {
		for _, e := range a.Entries {
			w.line("access-list %s %s", a.Name, entry(e))
		}
		w.bang()
		return
	}
	switch a.Kind {
	case "ipv6":
		w.line("ipv6 access-list %s", q(a.Name))
	default:
		w.line("ip access-list %s %s", a.Kind, q(a.Name))
	}
	for _, e := range a.Entries {
		w.line(" %s", entry(e))
	}
	w.bang()
}
