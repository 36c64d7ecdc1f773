package config

import "slices"

// The smart defaults, exactly as G:636-640 shows them.

func builtinProposal() *Proposal {
	return &Proposal{
		Name:       "default",
		Encryption: []Encryption{EncrAESCBC256, EncrAESCBC192, EncrAESCBC128},
		Integrity:  []Integrity{IntegSHA512, IntegSHA384, IntegSHA256, IntegSHA1, IntegMD5},
		// [G] lists DH 5 and 2; [B] says 1, 2, 5, 14 (D-6). We follow [G],
		// whose show output is the authoritative display of the object.
		Groups:  []DHGroup{5, 2},
		Builtin: true,
	}
}

func builtinPolicy() *Policy {
	return &Policy{Name: "default", Proposals: []string{"default"}, MatchFVRF: "any", Builtin: true}
}

func builtinAuthzPolicy() *AuthorizationPolicy {
	return &AuthorizationPolicy{
		Name:              "default",
		RouteSetInterface: true,
		RouteAccept:       &RouteAccept{Tag: 1, Distance: 2},
		Builtin:           true,
	}
}

func builtinTransformSet() *TransformSet {
	// D-7: rule 6 of G:625 says the default transform set uses transport
	// mode, but its show output (G:640) says `will negotiate = { Tunnel, }`.
	// We follow the show output: tunnel mode, like every other set.
	return &TransformSet{Name: "default", Cipher: ESPAES, Integrity: ESPSHAHMAC, Mode: "tunnel", Builtin: true}
}

func builtinIPsecProfile() *IPsecProfile {
	return &IPsecProfile{
		Name:            "default",
		TransformSets:   []string{"default"},
		LifetimeKB:      DefaultIPsecLifetimeKB,
		LifetimeSeconds: DefaultIPsecLifetimeSeconds,
		Builtin:         true,
	}
}

// newConfig returns an empty configuration holding every smart default.
func newConfig() *Config {
	return &Config{
		IKEv2:         IKEv2Global{Window: 5},
		Proposals:     []*Proposal{builtinProposal()},
		Policies:      []*Policy{builtinPolicy()},
		AuthzPolicies: []*AuthorizationPolicy{builtinAuthzPolicy()},
		TransformSets: []*TransformSet{builtinTransformSet()},
		IPsecProfiles: []*IPsecProfile{builtinIPsecProfile()},
	}
}

// DefaultDisabled reports whether the configuration removed smart default k.
func (c *Config) DefaultDisabled(k DefaultKind) bool { return slices.Contains(c.DisabledDefaults, k) }

func find[T any](list []*T, name func(*T) string, want string) *T {
	for _, x := range list {
		if name(x) == want {
			return x
		}
	}
	return nil
}

// Proposal returns the IKEv2 proposal called name, or nil.
func (c *Config) Proposal(name string) *Proposal {
	return find(c.Proposals, func(p *Proposal) string { return p.Name }, name)
}

// Policy returns the IKEv2 policy called name, or nil.
func (c *Config) Policy(name string) *Policy {
	return find(c.Policies, func(p *Policy) string { return p.Name }, name)
}

// Keyring returns the IKEv2 keyring called name, or nil.
func (c *Config) Keyring(name string) *Keyring {
	return find(c.Keyrings, func(p *Keyring) string { return p.Name }, name)
}

// Profile returns the IKEv2 profile called name, or nil.
func (c *Config) Profile(name string) *Profile {
	return find(c.Profiles, func(p *Profile) string { return p.Name }, name)
}

// AuthzPolicy returns the IKEv2 authorization policy called name, or nil.
func (c *Config) AuthzPolicy(name string) *AuthorizationPolicy {
	return find(c.AuthzPolicies, func(p *AuthorizationPolicy) string { return p.Name }, name)
}

// NameMangler returns the name mangler called name, or nil.
func (c *Config) NameMangler(name string) *NameMangler {
	return find(c.NameManglers, func(p *NameMangler) string { return p.Name }, name)
}

// FlexVPNClient returns the FlexVPN client profile called name, or nil.
func (c *Config) FlexVPNClient(name string) *FlexVPNClient {
	return find(c.FlexVPNClients, func(p *FlexVPNClient) string { return p.Name }, name)
}

// TransformSet returns the transform set called name, or nil.
func (c *Config) TransformSet(name string) *TransformSet {
	return find(c.TransformSets, func(p *TransformSet) string { return p.Name }, name)
}

// IPsecProfile returns the IPsec profile called name, or nil.
func (c *Config) IPsecProfile(name string) *IPsecProfile {
	return find(c.IPsecProfiles, func(p *IPsecProfile) string { return p.Name }, name)
}

// Trustpoint returns the PKI trustpoint called name, or nil.
func (c *Config) Trustpoint(name string) *Trustpoint {
	return find(c.Trustpoints, func(p *Trustpoint) string { return p.Name }, name)
}

// CertMap returns the certificate map called name, or nil.
func (c *Config) CertMap(name string) *CertificateMap {
	return find(c.CertMaps, func(p *CertificateMap) string { return p.Name }, name)
}

// Interface returns the interface called name (any IOS spelling), or nil.
func (c *Config) Interface(name string) *Interface {
	n, _, _, ok := canonicalInterface(name)
	if !ok {
		return nil
	}
	return find(c.Interfaces, func(p *Interface) string { return p.Name }, n)
}

// VirtualTemplate returns interface Virtual-Template n, or nil.
func (c *Config) VirtualTemplate(n int) *Interface {
	for _, i := range c.Interfaces {
		if i.Kind == KindVirtualTemplate && i.Number == n {
			return i
		}
	}
	return nil
}

// VRF returns the VRF called name, or nil.
func (c *Config) VRF(name string) *VRF {
	return find(c.VRFs, func(p *VRF) string { return p.Name }, name)
}

// Pool returns the local address pool called name, or nil.
func (c *Config) Pool(name string) *LocalPool {
	return find(c.Pools, func(p *LocalPool) string { return p.Name }, name)
}

// AccessList returns the access list called name (or number), or nil.
func (c *Config) AccessList(name string) *AccessList {
	return find(c.AccessLists, func(p *AccessList) string { return p.Name }, name)
}

// AttributeList returns the AAA attribute list called name, or nil.
func (c *Config) AttributeList(name string) *AAAAttributeList {
	return find(c.AAA.AttributeLists, func(p *AAAAttributeList) string { return p.Name }, name)
}
