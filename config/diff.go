package config

// ChangeOp says what happened to an object between two configurations.
type ChangeOp string

// Change operations.
const (
	Added    ChangeOp = "added"
	Removed  ChangeOp = "removed"
	Modified ChangeOp = "modified"
)

// Change is one object that differs between two configurations. Kind is the
// IOS command that defines it ("crypto ikev2 profile", "interface", ...);
// Name is empty for the global settings that have no name ("crypto ikev2"
// global options, "ip route", "cts role-based sgt-map", "aaa", "hostname").
type Change struct {
	Kind string   `json:"kind"`
	Name string   `json:"name,omitempty"`
	Op   ChangeOp `json:"op"`
}

// Diff lists the objects that differ between old and new, as Equal judges
// them (positions ignored), in a fixed order: by kind as RunningConfig
// writes them, then removals, additions and modifications in configuration
// order. The daemon applies a reload from it and leaves every session whose
// objects are not listed alone.
func Diff(old, new *Config) []Change {
	var out []Change
	single := func(kind string, a, b any) {
		if !Equal(a, b) {
			out = append(out, Change{Kind: kind, Op: Modified})
		}
	}
	single("hostname", old.Hostname, new.Hostname)
	single("aaa", old.AAA.NewModel, new.AAA.NewModel)
	single("aaa authorization network", old.AAA.AuthorizationNetwork, new.AAA.AuthorizationNetwork)
	out = diffNamed(out, "aaa attribute list", old.AAA.AttributeLists, new.AAA.AttributeLists, func(x *AAAAttributeList) string { return x.Name })
	out = diffNamed(out, "vrf definition", old.VRFs, new.VRFs, func(x *VRF) string { return x.Name })
	out = diffNamed(out, "crypto pki trustpoint", old.Trustpoints, new.Trustpoints, func(x *Trustpoint) string { return x.Name })
	out = diffNamed(out, "crypto pki certificate map", old.CertMaps, new.CertMaps, func(x *CertificateMap) string { return x.Name })
	single("crypto ikev2", old.IKEv2, new.IKEv2)
	out = diffNamed(out, "crypto ikev2 proposal", old.Proposals, new.Proposals, func(x *Proposal) string { return x.Name })
	out = diffNamed(out, "crypto ikev2 policy", old.Policies, new.Policies, func(x *Policy) string { return x.Name })
	out = diffNamed(out, "crypto ikev2 keyring", old.Keyrings, new.Keyrings, func(x *Keyring) string { return x.Name })
	out = diffNamed(out, "crypto ikev2 name-mangler", old.NameManglers, new.NameManglers, func(x *NameMangler) string { return x.Name })
	out = diffNamed(out, "crypto ikev2 authorization policy", old.AuthzPolicies, new.AuthzPolicies, func(x *AuthorizationPolicy) string { return x.Name })
	out = diffNamed(out, "crypto ikev2 profile", old.Profiles, new.Profiles, func(x *Profile) string { return x.Name })
	out = diffNamed(out, "crypto ikev2 client flexvpn", old.FlexVPNClients, new.FlexVPNClients, func(x *FlexVPNClient) string { return x.Name })
	out = diffNamed(out, "crypto ipsec transform-set", old.TransformSets, new.TransformSets, func(x *TransformSet) string { return x.Name })
	out = diffNamed(out, "crypto ipsec profile", old.IPsecProfiles, new.IPsecProfiles, func(x *IPsecProfile) string { return x.Name })
	out = diffNamed(out, "interface", old.Interfaces, new.Interfaces, func(x *Interface) string { return x.Name })
	out = diffNamed(out, "ip local pool", old.Pools, new.Pools, func(x *LocalPool) string { return x.Name })
	single("ip route", old.Routes, new.Routes)
	out = diffNamed(out, "ip access-list", old.AccessLists, new.AccessLists, func(x *AccessList) string { return x.Name })
	single("cts role-based sgt-map", old.SGTMaps, new.SGTMaps)
	single("cts role-based permissions", old.CTS, new.CTS)
	out = diffNamed(out, "role-based access-list", old.RoleBasedACLs, new.RoleBasedACLs, func(x *RoleBasedACL) string {
		if x.IPv6 {
			return "ipv6 " + x.Name
		}
		return x.Name
	})
	return out
}

func diffNamed[T any](out []Change, kind string, olds, news []*T, name func(*T) string) []Change {
	index := func(l []*T) map[string]*T {
		m := make(map[string]*T, len(l))
		for _, x := range l {
			m[name(x)] = x
		}
		return m
	}
	om, nm := index(olds), index(news)
	for _, o := range olds {
		if _, ok := nm[name(o)]; !ok {
			out = append(out, Change{Kind: kind, Name: name(o), Op: Removed})
		}
	}
	for _, n := range news {
		if _, ok := om[name(n)]; !ok {
			out = append(out, Change{Kind: kind, Name: name(n), Op: Added})
		}
	}
	for _, n := range news {
		if o, ok := om[name(n)]; ok && !Equal(o, n) {
			out = append(out, Change{Kind: kind, Name: name(n), Op: Modified})
		}
	}
	return out
}
