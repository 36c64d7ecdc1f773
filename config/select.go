package config

import (
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/esphub/esphub/ike/wire"
)

// The FlexVPN selection rules. They are pure functions of the model and
// their inputs: the IKE engine calls them (through control) during
// IKE_SA_INIT and IKE_AUTH, and they never block or log.

// IKESuite is the one transform of each type chosen for an IKE SA.
// Integrity is zero for AES-GCM.
type IKESuite struct {
	Encryption Encryption
	Integrity  Integrity
	PRF        PRF
	Group      DHGroup
}

// SelectIKESuite chooses the IKE SA transforms from the initiator's offer and
// the responder's acceptable proposals, or reports false when no proposal
// pair has a transform of every type in common.
//
// D-1: G:1313 and B:476 state that the initiator's preference wins; the
// worked example of G:1286-1315 shows a result that mixes both sides'
// orders. We implement the stated rule: initiator proposals in order, and
// within each transform type the initiator's order, taking the first
// transform the responder's proposal also lists. RFC 7296 leaves the choice
// to the responder, so this is a valid responder policy.
func SelectIKESuite(initiator, responder []*Proposal) (IKESuite, bool) {
	for _, ip := range initiator {
		for _, rp := range responder {
			if s, ok := intersectProposal(ip, rp); ok {
				return s, true
			}
		}
	}
	return IKESuite{}, false
}

func intersectProposal(ip, rp *Proposal) (IKESuite, bool) {
	group, ok := firstCommon(ip.Groups, rp.Groups)
	if !ok {
		return IKESuite{}, false
	}
	prf, ok := firstCommon(ip.EffectivePRF(), rp.EffectivePRF())
	if !ok {
		return IKESuite{}, false
	}
	for _, e := range ip.Encryption {
		if !slices.Contains(rp.Encryption, e) {
			continue
		}
		if e.IsAEAD() {
			return IKESuite{Encryption: e, PRF: prf, Group: group}, true
		}
		if integ, ok := firstCommon(ip.Integrity, rp.Integrity); ok {
			return IKESuite{Encryption: e, Integrity: integ, PRF: prf, Group: group}, true
		}
	}
	return IKESuite{}, false
}

func firstCommon[T comparable](pref, other []T) (T, bool) {
	for _, x := range pref {
		if slices.Contains(other, x) {
			return x, true
		}
	}
	var zero T
	return zero, false
}

// PolicyProposals resolves the proposals a policy lists, in order, leaving
// out names that do not resolve (validation reports those).
func (c *Config) PolicyProposals(p *Policy) []*Proposal {
	var out []*Proposal
	for _, n := range p.Proposals {
		if pr := c.Proposal(n); pr != nil {
			out = append(out, pr)
		}
	}
	return out
}

// policyScore returns how specifically p matches (fvrf, local), or -1.
func policyScore(p *Policy, fvrf string, local netip.Addr) int {
	score := 0
	switch p.MatchFVRF {
	case "any":
	case "":
		// no match fvrf: the global VRF only (G:910-951)
		if fvrf != "" {
			return -1
		}
		score++
	default:
		if p.MatchFVRF != fvrf {
			return -1
		}
		score++
	}
	if len(p.MatchLocal) > 0 {
		if !slices.Contains(p.MatchLocal, local.Unmap()) && !slices.Contains(p.MatchLocal, local) {
			return -1
		}
		score += 2
	}
	return score
}

// SelectPolicy returns the IKEv2 policy for an IKE SA whose front-door VRF
// is fvrf ("" for the global table) and whose local address is local: on
// the initiator the tunnel source, on the responder the address the
// IKE_SA_INIT arrived on. It returns nil when nothing matches (the default
// policy disabled and no user policy matching).
//
// D-2: G:925 says the first matching policy is used, G:1351-1363 and [B]
// say the best (most specific) match. We take the most specific — a local
// address match counts more than a named FVRF, which counts more than
// `match fvrf any` — and break ties by configuration order, which is
// "first" among equals. The default policy is used only when no other
// policy matches (B:603).
func (c *Config) SelectPolicy(fvrf string, local netip.Addr) *Policy {
	var best *Policy
	bestScore := -1
	for _, p := range c.Policies {
		if p.Name == "default" || len(c.PolicyProposals(p)) == 0 {
			continue
		}
		if s := policyScore(p, fvrf, local); s > bestScore {
			best, bestScore = p, s
		}
	}
	if best != nil {
		return best
	}
	if d := c.Policy("default"); d != nil && len(c.PolicyProposals(d)) > 0 && policyScore(d, fvrf, local) >= 0 {
		return d
	}
	return nil
}

// PeerInfo is what the responder knows about a peer when it selects an
// IKEv2 profile in IKE_AUTH.
type PeerInfo struct {
	// Identity is the peer's IDi. For certificate peers CertSubject and
	// CertIssuer are the DNs of its end-entity certificate.
	Identity    Identity
	CertSubject string
	CertIssuer  string
	// FVRF is the front-door VRF the IKE packets arrived in ("" = global);
	// Local the local address and LocalInterface the local interface name.
	FVRF           string
	Local          netip.Addr
	LocalInterface string
}

// Profile selection errors.
var (
	ErrNoProfile        = errors.New("no IKEv2 profile matches the peer")
	ErrAmbiguousProfile = errors.New("more than one IKEv2 profile matches the peer")
)

// MatchProfile returns the single IKEv2 profile that matches peer. A
// profile matches when its identity-or-certificate statements match (they
// are one type, ORed: D-3 follows [G] G:743-807 rather than [B]'s
// "certificate takes precedence"), and its fvrf and local-address
// statements match (ANDed). A profile without identity or certificate
// statements is incomplete and never matches; a shut-down profile neither.
// When more than one profile matches, none is selected and
// ErrAmbiguousProfile names the conflict (G:743-807: overlapping profiles
// are a misconfiguration).
func (c *Config) MatchProfile(peer PeerInfo) (*Profile, error) {
	var found []*Profile
	for _, p := range c.Profiles {
		if c.profileMatches(p, peer) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return nil, ErrNoProfile
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, p := range found {
		names[i] = p.Name
	}
	return nil, &ambiguousError{names: names}
}

type ambiguousError struct{ names []string }

func (e *ambiguousError) Error() string {
	return ErrAmbiguousProfile.Error() + ": " + strings.Join(e.names, ", ")
}

func (e *ambiguousError) Unwrap() error { return ErrAmbiguousProfile }

func (c *Config) profileMatches(p *Profile, peer PeerInfo) bool {
	if p.Shutdown || len(p.MatchIdentities)+len(p.MatchCerts) == 0 {
		return false
	}
	idOK := false
	for _, m := range p.MatchIdentities {
		if m.Matches(peer.Identity) {
			idOK = true
			break
		}
	}
	if !idOK && peer.CertSubject != "" {
		for _, name := range p.MatchCerts {
			if m := c.CertMap(name); m != nil && m.Matches(peer.CertSubject, peer.CertIssuer) {
				idOK = true
				break
			}
		}
	}
	if !idOK {
		return false
	}
	switch p.MatchFVRF {
	case "any":
	case "":
		if peer.FVRF != "" {
			return false
		}
	default:
		if p.MatchFVRF != peer.FVRF {
			return false
		}
	}
	if len(p.MatchLocal)+len(p.MatchLocalIfs) > 0 {
		if !slices.Contains(p.MatchLocal, peer.Local) && !slices.Contains(p.MatchLocalIfs, peer.LocalInterface) {
			return false
		}
	}
	return true
}

// Matches reports whether a peer identity satisfies the pattern m (a
// `match identity remote` statement or a keyring `identity`). FQDN and
// e-mail comparisons ignore case; key-ids are compared exactly.
func (m Identity) Matches(peer Identity) bool {
	switch m.Type {
	case IDAny:
		return true
	case IDAddress:
		return peer.Type == IDAddress && m.Prefix.Masked().Contains(peer.Prefix.Addr())
	case IDFQDN:
		if peer.Type != IDFQDN {
			return false
		}
		if m.Domain {
			return domainMatch(peer.Value, m.Value)
		}
		return strings.EqualFold(peer.Value, m.Value)
	case IDEmail:
		if peer.Type != IDEmail {
			return false
		}
		if m.Domain {
			_, dom, ok := strings.Cut(peer.Value, "@")
			return ok && domainMatch(dom, m.Value)
		}
		return strings.EqualFold(peer.Value, m.Value)
	case IDKeyID:
		return peer.Type == IDKeyID && peer.Value == m.Value
	}
	return false
}

// domainMatch reports whether name is domain or inside it.
func domainMatch(name, domain string) bool {
	name, domain = strings.ToLower(strings.TrimSuffix(name, ".")), strings.ToLower(strings.TrimSuffix(domain, "."))
	return name == domain || strings.HasSuffix(name, "."+domain)
}

// specificity orders identity patterns for "most specific match wins":
// exact identities beat domain patterns, longer domains beat shorter ones,
// longer prefixes beat shorter ones.
func (m Identity) specificity() int {
	switch m.Type {
	case IDAddress:
		return m.Prefix.Bits()
	case IDFQDN, IDEmail:
		if m.Domain {
			return len(m.Value)
		}
		return 1 << 20
	case IDKeyID:
		return 1 << 20
	}
	return 0
}

// Matches reports whether a certificate with the given subject and issuer
// DNs matches the map: some entry (sequence) must have every rule true.
// `eq`/`ne` compare the whole DN or one of its attribute=value components;
// `co`/`nc` test for a substring. Comparisons ignore case and the spaces
// around "=" and ",".
func (m *CertificateMap) Matches(subject, issuer string) bool {
	for _, e := range m.Entries {
		if len(e.Rules) == 0 {
			continue
		}
		all := true
		for _, r := range e.Rules {
			var dn string
			switch r.Field {
			case "subject-name", "name":
				dn = subject
			case "issuer-name":
				dn = issuer
			default:
				all = false
			}
			if !all || !r.matches(dn) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func normDN(s string) string {
	s = strings.ToLower(s)
	s = strings.Join(strings.Fields(s), " ")
	for _, sep := range []string{"=", ","} {
		s = strings.ReplaceAll(s, " "+sep, sep)
		s = strings.ReplaceAll(s, sep+" ", sep)
	}
	return s
}

func (r CertMapRule) matches(dn string) bool {
	d, v := normDN(dn), normDN(r.Value)
	eq := d == v
	if !eq {
		for _, part := range strings.Split(d, ",") {
			if part == v {
				eq = true
				break
			}
		}
	}
	switch r.Op {
	case "eq":
		return eq
	case "ne":
		return !eq
	case "co":
		return strings.Contains(d, v)
	case "nc":
		return !strings.Contains(d, v)
	}
	return false
}

// Role is the IKE role a lookup is made for.
type Role uint8

// IKE roles.
const (
	Initiator Role = iota
	Responder
)

// KeyQuery describes the peer whose pre-shared key is looked up.
type KeyQuery struct {
	Role Role
	// Hostname is the peer host name the initiator knows (crypto map
	// `set peer hostname`, or the tunnel destination's name).
	Hostname string
	// Identity is the peer's IKEv2 identity (responder, from IKE_AUTH).
	Identity *Identity
	// Address is the peer's IKE endpoint address.
	Address netip.Addr
}

// LookupPeer finds the keyring peer whose keys authenticate q (G:957-1117,
// B:678-811): the initiator looks up by host name, then by address; the
// responder by identity, then by address. Among matches of one kind the
// most specific wins: a host address beats a prefix, which beats the
// 0.0.0.0/0 wildcard (G:1083-1117); an exact identity beats a domain
// pattern. It returns nil when no peer matches.
func (k *Keyring) LookupPeer(q KeyQuery) *KeyringPeer {
	if k == nil {
		return nil
	}
	switch q.Role {
	case Initiator:
		if q.Hostname != "" {
			for _, p := range k.Peers {
				if p.Hostname != "" && strings.EqualFold(p.Hostname, q.Hostname) {
					return p
				}
			}
		}
	case Responder:
		if q.Identity != nil {
			var best *KeyringPeer
			bestSpec := -1
			for _, p := range k.Peers {
				for _, id := range p.Identities {
					if id.Matches(*q.Identity) && id.specificity() > bestSpec {
						best, bestSpec = p, id.specificity()
					}
				}
			}
			if best != nil {
				return best
			}
		}
	}
	if !q.Address.IsValid() {
		return nil
	}
	addr := q.Address.Unmap()
	var best *KeyringPeer
	bestBits := -1
	for _, p := range k.Peers {
		if p.Address == nil || p.Address.Addr().Is4() != addr.Is4() {
			continue
		}
		if p.Address.Masked().Contains(addr) && p.Address.Bits() > bestBits {
			best, bestBits = p, p.Address.Bits()
		}
	}
	return best
}

// Username derives the AAA username from a peer identity with the name
// mangler (G:1832-1862, B:310-441). For IDDN identities Value holds the DN
// ("cn=a,ou=b,o=c"); for EAP identities pass Type IDEAP. It reports false
// when the mangler has no rule for the identity type or the part is absent.
func (m *NameMangler) Username(id Identity) (string, bool) {
	switch id.Type {
	case IDFQDN:
		host, dom, _ := strings.Cut(id.Value, ".")
		return pick(m.FQDN, map[string]string{"all": id.Value, "hostname": host, "domain": dom})
	case IDEmail:
		user, dom, _ := strings.Cut(id.Value, "@")
		return pick(m.Email, map[string]string{"all": id.Value, "username": user, "domain": dom})
	case IDDN:
		if m.DN == "all" {
			return nonEmpty(id.Value)
		}
		return dnField(id.Value, m.DN)
	case IDEAP:
		switch m.EAP {
		case "all":
			return nonEmpty(id.Value)
		case "dn":
			return dnField(id.Value, m.EAPDN)
		case "prefix":
			if p, _, ok := strings.Cut(id.Value, m.EAPDelimiter); ok {
				return nonEmpty(p)
			}
			return "", false
		case "suffix":
			if _, s, ok := strings.Cut(id.Value, m.EAPDelimiter); ok {
				return nonEmpty(s)
			}
			return "", false
		}
	}
	return "", false
}

// IDEAP marks an EAP identity handed to NameMangler.Username.
const IDEAP IdentityType = "eap"

func pick(rule string, parts map[string]string) (string, bool) {
	if rule == "" {
		return "", false
	}
	return nonEmpty(parts[rule])
}

func nonEmpty(s string) (string, bool) { return s, s != "" }

var dnAttr = map[string][]string{
	"common-name":       {"cn"},
	"country":           {"c"},
	"locality":          {"l"},
	"organization":      {"o"},
	"organization-unit": {"ou"},
	"state":             {"st", "s"},
	"domain":            {"dc"},
}

// dnField extracts one attribute of a DN such as "cn=r1.example.com,ou=flex".
// The `domain` field is the DC components joined with dots or, without
// any, the domain part of an FQDN common name.
func dnField(dn, field string) (string, bool) {
	var dcs []string
	cn := ""
	for _, part := range strings.Split(dn, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if k == "dc" {
			dcs = append(dcs, v)
		}
		if k == "cn" {
			cn = v
		}
		if field != "domain" && slices.Contains(dnAttr[field], k) {
			return nonEmpty(v)
		}
	}
	if field == "domain" {
		if len(dcs) > 0 {
			return strings.Join(dcs, "."), true
		}
		if _, dom, ok := strings.Cut(cn, "."); ok {
			return nonEmpty(dom)
		}
	}
	return "", false
}

// Combinations expands a proposal into the prioritised list of transform
// combinations it stands for (G:1264-1284): encryption varies slowest, then
// integrity, PRF and DH group, each in configured order. AES-GCM
// combinations carry no integrity. Control maps each to the IKE engine's
// single-transform proposals with IKESuite.IANA.
func (p *Proposal) Combinations() []IKESuite {
	var out []IKESuite
	prfs := p.EffectivePRF()
	for _, e := range p.Encryption {
		integs := p.Integrity
		if e.IsAEAD() {
			integs = []Integrity{0}
		}
		for _, i := range integs {
			for _, f := range prfs {
				for _, g := range p.Groups {
					out = append(out, IKESuite{Encryption: e, Integrity: i, PRF: f, Group: g})
				}
			}
		}
	}
	return out
}

// IANAIDs returns the wire IDs of the suite's transforms; integ is
// IntegNone for AES-GCM.
func (s IKESuite) IANAIDs() (encr wire.EncrID, keyBits uint16, integ wire.IntegID, prf wire.PRFID, dh wire.DHGroup) {
	encr, keyBits = s.Encryption.IANA()
	if s.Integrity != 0 {
		integ = s.Integrity.IANA()
	}
	return encr, keyBits, integ, s.PRF.IANA(), s.Group.IANA()
}
