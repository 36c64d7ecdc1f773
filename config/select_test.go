package config

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/esphub/esphub/ike/wire"
)

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, diags := Parse("test.cfg", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags.Err())
	}
	return cfg
}

// G:1286-1315 (Appendix A G13), the configuration of both sides.
const g13 = `
crypto ikev2 proposal proposal-1
 encryption aes-cbc-192 aes-cbc-128
 integrity sha-256 sha1
 group 14 24
crypto ikev2 proposal proposal-2
 encryption aes-cbc-128 aes-cbc-192
 integrity sha1 sha-256
 group 24 14
`

func TestSelectIKESuite(t *testing.T) {
	cfg := mustParse(t, g13+`
crypto ikev2 proposal gcm
 encryption aes-gcm-256
 prf sha384
 group 20
crypto ikev2 proposal gcm-or-cbc
 encryption aes-gcm-128 aes-cbc-256
 integrity sha512
 prf sha256
 group 19 14
crypto ikev2 proposal cbc256
 encryption aes-cbc-256
 integrity sha512
 group 14
crypto ikev2 proposal only16
 encryption aes-cbc-128
 integrity sha1
 group 16
`)
	p := cfg.Proposal
	tests := []struct {
		name       string
		source     string
		init, resp []*Proposal
		want       IKESuite
		ok         bool
	}{
		// D-1: the stated rule (initiator preference, G:1313, B:476) wins
		// over the worked result printed at G:1305-1309.
		{"G13 initiator preference", "G:1286-1315, D-1", []*Proposal{p("proposal-1")}, []*Proposal{p("proposal-2")},
			IKESuite{EncrAESCBC192, IntegSHA256, PRFSHA256, 14}, true},
		{"G13 roles swapped", "G:1286-1315, D-1", []*Proposal{p("proposal-2")}, []*Proposal{p("proposal-1")},
			IKESuite{EncrAESCBC128, IntegSHA1, PRFSHA1, 24}, true},
		{"AES-GCM takes no integrity", "§8, G:656-662", []*Proposal{p("gcm")}, []*Proposal{p("gcm")},
			IKESuite{EncrAESGCM256, 0, PRFSHA384, 20}, true},
		{"no common PRF (derived from integrity)", "§3 (PRF defaults to integrity)", []*Proposal{p("gcm-or-cbc")}, []*Proposal{p("cbc256")},
			IKESuite{}, false},
		{"no common group", "§3 (proposal complete only with DH)", []*Proposal{p("only16")}, []*Proposal{p("proposal-1")},
			IKESuite{}, false},
		{"default proposal against itself", "§7, G:637", []*Proposal{p("default")}, []*Proposal{p("default")},
			IKESuite{EncrAESCBC256, IntegSHA512, PRFSHA512, 5}, true},
		{"second initiator proposal", "§3 (proposals tried in order)", []*Proposal{p("only16"), p("proposal-1")}, []*Proposal{p("proposal-2")},
			IKESuite{EncrAESCBC192, IntegSHA256, PRFSHA256, 14}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := SelectIKESuite(tc.init, tc.resp)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("%s: got %+v,%v want %+v,%v", tc.source, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestSelectIKESuiteMixedPRF(t *testing.T) {
	// gcm-or-cbc offers PRF sha256 only; cbc256's PRF defaults to its
	// integrity (sha512): "Without GCM, PRF defaults to the integrity
	// algorithm" (§3). No common PRF, so no suite.
	cfg := mustParse(t, `
crypto ikev2 proposal a
 encryption aes-gcm-128 aes-cbc-256
 integrity sha512
 prf sha512
 group 14
crypto ikev2 proposal b
 encryption aes-cbc-256
 integrity sha512
 group 14
`)
	got, ok := SelectIKESuite([]*Proposal{cfg.Proposal("a")}, []*Proposal{cfg.Proposal("b")})
	want := IKESuite{EncrAESCBC256, IntegSHA512, PRFSHA512, 14}
	if !ok || got != want {
		t.Fatalf("got %+v %v, want %+v", got, ok, want)
	}
}

func TestSelectPolicy(t *testing.T) {
	base := `
vrf definition fvrf1
vrf definition other
crypto ikev2 proposal p
 encryption aes-cbc-128
 integrity sha1
 group 14
`
	a := netip.MustParseAddr
	tests := []struct {
		name, source, cfg string
		fvrf              string
		local             netip.Addr
		want              string // "" = nil
	}{
		{"G17 best match", "G:1351-1363, D-2", base + `
crypto ikev2 policy policy1
 match fvrf fvrf1
 proposal p
crypto ikev2 policy policy2
 match fvrf fvrf1
 match local address 10.0.0.1
 proposal p
`, "fvrf1", a("10.0.0.1"), "policy2"},
		{"G17 other local address", "G:1351-1363", base + `
crypto ikev2 policy policy1
 match fvrf fvrf1
 proposal p
crypto ikev2 policy policy2
 match fvrf fvrf1
 match local address 10.0.0.1
 proposal p
`, "fvrf1", a("10.0.0.2"), "policy1"},
		{"equal specificity: first wins", "G:925, D-2", base + `
crypto ikev2 policy first
 match fvrf any
 proposal p
crypto ikev2 policy second
 match fvrf any
 proposal p
`, "", a("198.18.0.1"), "first"},
		{"no match statements: global VRF only", "G:910-951 (§4)", base + `
crypto ikev2 policy global
 proposal p
`, "other", a("198.18.0.1"), "default"},
		{"no match statements matches global", "G:910-951 (§4)", base + `
crypto ikev2 policy global
 proposal p
`, "", a("198.18.0.1"), "global"},
		{"match fvrf any", "G:1341-1349", base + `
crypto ikev2 policy anyvrf
 match vrf any
 proposal p
`, "other", a("198.18.0.1"), "anyvrf"},
		{"fallback to default policy", "B:603", base, "other", a("198.18.0.1"), "default"},
		{"default disabled", "§7 rule 4", base + "no crypto ikev2 policy default\n", "", a("198.18.0.1"), ""},
		{"local address must match", "B:611-631", base + `
crypto ikev2 policy loc
 match address local 100.1.125.1
 proposal p
no crypto ikev2 policy default
`, "", a("100.1.125.2"), ""},
		{"named fvrf beats any", "§4, D-2", base + `
crypto ikev2 policy anyvrf
 match fvrf any
 proposal p
crypto ikev2 policy named
 match fvrf fvrf1
 proposal p
`, "fvrf1", a("198.18.0.1"), "named"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, tc.cfg)
			got := cfg.SelectPolicy(tc.fvrf, tc.local)
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tc.want {
				t.Fatalf("%s: got %q want %q", tc.source, name, tc.want)
			}
		})
	}
}

const profilesCfg = `
crypto pki certificate map certmap1 1
 subject-name co cisco
crypto pki certificate map hostmap 1
 subject-name eq hostname = responder
crypto ikev2 profile by-domain
 match identity remote fqdn domain cisco.com
 authentication local rsa-sig
 authentication remote rsa-sig
crypto ikev2 profile by-host
 match identity remote fqdn branch.example.com
 match identity remote email user1@example.com
 authentication local rsa-sig
 authentication remote rsa-sig
crypto ikev2 profile by-cert
 match certificate certmap1
 authentication local rsa-sig
 authentication remote rsa-sig
crypto ikev2 profile by-addr
 match identity remote address 10.0.0.0 255.0.0.0
 match fvrf any
 authentication local rsa-sig
 authentication remote rsa-sig
crypto ikev2 profile overlap
 match identity remote address 10.1.0.0 255.255.0.0
 match fvrf any
 authentication local rsa-sig
 authentication remote rsa-sig
crypto ikev2 profile local-only
 match identity remote key-id group1
 match address local 198.18.0.1
 authentication local pre-share key k
 authentication remote pre-share key k
crypto ikev2 profile incomplete
 authentication local rsa-sig
 authentication remote rsa-sig
`

func TestMatchProfile(t *testing.T) {
	cfg := mustParse(t, profilesCfg)
	fq := func(s string) Identity { return Identity{Type: IDFQDN, Value: s} }
	ad := func(s string) Identity {
		a := netip.MustParseAddr(s)
		return Identity{Type: IDAddress, Prefix: netip.PrefixFrom(a, a.BitLen())}
	}
	tests := []struct {
		name, source string
		peer         PeerInfo
		want         string
		err          error
	}{
		{"fqdn domain", "G:1210-1247 (G10 central)", PeerInfo{Identity: fq("branch.cisco.com")}, "by-domain", nil},
		{"fqdn exact", "G:1121-1136", PeerInfo{Identity: fq("BRANCH.example.com")}, "by-host", nil},
		{"two identities ORed", "G:1138-1156", PeerInfo{Identity: Identity{Type: IDEmail, Value: "user1@example.com"}}, "by-host", nil},
		{"certificate map", "G:1982-2033 (G19)", PeerInfo{Identity: Identity{Type: IDDN}, CertSubject: "cn=r1,o=Cisco"}, "by-cert", nil},
		{"certificate and identity are one type (D-3)", "G:743-807, D-3",
			PeerInfo{Identity: fq("spoke.cisco.com"), CertSubject: "cn=spoke,o=cisco"}, "", ErrAmbiguousProfile},
		{"overlapping profiles: none selected", "G:743-807 (§6)", PeerInfo{Identity: ad("10.1.2.3"), FVRF: "red"}, "", ErrAmbiguousProfile},
		{"address prefix", "G:2635-2689 (G23)", PeerInfo{Identity: ad("10.2.0.1"), FVRF: "red"}, "by-addr", nil},
		{"fvrf absent means global", "§6 match fvrf", PeerInfo{Identity: fq("branch.cisco.com"), FVRF: "red"}, "", ErrNoProfile},
		{"local address", "§6 match address local", PeerInfo{Identity: Identity{Type: IDKeyID, Value: "group1"}, Local: netip.MustParseAddr("198.18.0.1")}, "local-only", nil},
		{"local address mismatch", "§6 match address local", PeerInfo{Identity: Identity{Type: IDKeyID, Value: "group1"}, Local: netip.MustParseAddr("198.18.0.2")}, "", ErrNoProfile},
		{"key-id is case-sensitive", "§6", PeerInfo{Identity: Identity{Type: IDKeyID, Value: "GROUP1"}, Local: netip.MustParseAddr("198.18.0.1")}, "", ErrNoProfile},
		{"no match", "§6", PeerInfo{Identity: fq("x.example.net")}, "", ErrNoProfile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cfg.MatchProfile(tc.peer)
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("%s: got %q, %v; want %q, %v", tc.source, name, err, tc.want, tc.err)
			}
		})
	}
}

func TestCertificateMapEq(t *testing.T) {
	// G:6608-6910 (G43): `subject-name eq hostname = responder` matches a
	// DN component.
	cfg := mustParse(t, profilesCfg)
	m := cfg.CertMap("hostmap")
	if !m.Matches("hostname=RESPONDER, cn=x", "") {
		t.Fatal("eq should match one DN component, ignoring case and spaces")
	}
	if m.Matches("hostname=responder2", "") {
		t.Fatal("eq must not match a longer value")
	}
}

// G:1083-1117 (Appendix A G7), keyring-1 and keyring-2.
const g7 = `
crypto ikev2 keyring keyring-1
peer cisco
  description example.com
  address 0.0.0.0 0.0.0.0
  pre-shared-key xyz-key
peer peer1
  description abc.example.com
  address 10.0.0.0 255.255.0.0
  pre-shared-key abc-key
peer host1
  description host1@abc.example.com
  address 10.0.0.1
  pre-shared-key host1-example-key
crypto ikev2 keyring keyring-2
peer host1
  description host1 in abc.example.com sub-domain
  address 10.0.0.1
  pre-shared-key host1-example-key
peer host2
  description example domain
  address 0.0.0.0 0.0.0.0
  pre-shared-key example-key
! G:1051-1069 (G5) identities, and G:1027-1049 (G4) host names
crypto ikev2 keyring ids
peer a
  identity fqdn peer2.abc.com
  address 198.18.9.9
  pre-shared-key by-fqdn
peer b
  identity fqdn domain abc.com
  pre-shared-key by-domain
peer c
  identity email peer2@abc.com
  pre-shared-key by-email
peer d
  identity key-id abc
  pre-shared-key by-keyid
peer e
  hostname host2.example.com
  address 198.18.9.0 255.255.255.0
  pre-shared-key by-hostname
peer v6
  address ::/0
  pre-shared-key v6-wildcard
`

func TestLookupPeer(t *testing.T) {
	cfg := mustParse(t, g7)
	a := netip.MustParseAddr
	id := func(typ IdentityType, v string) *Identity { return &Identity{Type: typ, Value: v} }
	tests := []struct {
		name, source, keyring string
		q                     KeyQuery
		want                  string // the key, "" = no peer
	}{
		{"host beats prefix and wildcard", "G:1083-1104", "keyring-1", KeyQuery{Role: Responder, Address: a("10.0.0.1")}, "host1-example-key"},
		{"prefix beats wildcard", "G:1083-1104", "keyring-1", KeyQuery{Role: Responder, Address: a("10.0.9.9")}, "abc-key"},
		{"wildcard", "G:1071-1081", "keyring-1", KeyQuery{Role: Initiator, Address: a("198.18.0.1")}, "xyz-key"},
		{"specific match", "G:1106-1117", "keyring-2", KeyQuery{Role: Initiator, Address: a("10.0.0.1")}, "host1-example-key"},
		{"responder by identity first", "G:1051-1069, §5", "ids", KeyQuery{Role: Responder, Identity: id(IDFQDN, "peer2.abc.com"), Address: a("198.18.9.5")}, "by-fqdn"},
		{"exact identity beats domain", "§5 most specific", "ids", KeyQuery{Role: Responder, Identity: id(IDFQDN, "PEER2.abc.com")}, "by-fqdn"},
		{"domain identity", "G:1051-1069", "ids", KeyQuery{Role: Responder, Identity: id(IDFQDN, "x.abc.com")}, "by-domain"},
		{"email identity", "G:1051-1069", "ids", KeyQuery{Role: Responder, Identity: id(IDEmail, "peer2@abc.com")}, "by-email"},
		{"key-id identity", "G:1051-1069", "ids", KeyQuery{Role: Responder, Identity: id(IDKeyID, "abc")}, "by-keyid"},
		{"responder falls back to address", "§5", "ids", KeyQuery{Role: Responder, Identity: id(IDKeyID, "zzz"), Address: a("198.18.9.7")}, "by-hostname"},
		{"initiator ignores identity", "B:774-781", "ids", KeyQuery{Role: Initiator, Identity: id(IDKeyID, "abc"), Address: a("198.18.9.9")}, "by-fqdn"},
		{"initiator by hostname first", "G:1027-1049", "ids", KeyQuery{Role: Initiator, Hostname: "HOST2.example.com", Address: a("198.18.9.9")}, "by-hostname"},
		{"responder ignores hostname", "B:774-781", "ids", KeyQuery{Role: Responder, Hostname: "host2.example.com", Address: a("203.0.113.1")}, ""},
		{"ipv6 wildcard", "G:2719-2776", "ids", KeyQuery{Role: Responder, Address: a("2001:db8::1")}, "v6-wildcard"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := cfg.Keyring(tc.keyring).LookupPeer(tc.q)
			got := ""
			if p != nil {
				got = p.Key.Reveal()
			}
			if got != tc.want {
				t.Fatalf("%s: got %q want %q", tc.source, got, tc.want)
			}
		})
	}
}

func TestNameMangler(t *testing.T) {
	cfg := mustParse(t, `
crypto ikev2 name-mangler m-host
 fqdn hostname
 email username
 dn common-name
 eap prefix delimiter @
crypto ikev2 name-mangler m-dom
 fqdn domain
 email domain
 dn domain
 eap suffix delimiter .
crypto ikev2 name-mangler m-all
 fqdn all
 email all
 dn all
 eap dn organization-unit
`)
	tests := []struct {
		name, source, mangler string
		id                    Identity
		want                  string
		ok                    bool
	}{
		{"fqdn hostname", "B:337-431", "m-host", Identity{Type: IDFQDN, Value: "branch1.example.com"}, "branch1", true},
		{"fqdn domain", "G:1832-1862", "m-dom", Identity{Type: IDFQDN, Value: "branch1.example.com"}, "example.com", true},
		{"fqdn all", "G:1832-1862", "m-all", Identity{Type: IDFQDN, Value: "branch1.example.com"}, "branch1.example.com", true},
		{"email username", "G:1832-1862", "m-host", Identity{Type: IDEmail, Value: "alice@example.com"}, "alice", true},
		{"email domain", "G:1832-1862", "m-dom", Identity{Type: IDEmail, Value: "alice@example.com"}, "example.com", true},
		{"dn common-name", "G:2120-2173 (G21)", "m-host", Identity{Type: IDDN, Value: "cn=spoke1.example.com, ou=flex, o=Cisco"}, "spoke1.example.com", true},
		{"dn domain from dc", "G:1982-2033 (G19)", "m-dom", Identity{Type: IDDN, Value: "cn=spoke1,dc=lab,dc=example"}, "lab.example", true},
		{"dn domain from cn", "G:1982-2033 (G19)", "m-dom", Identity{Type: IDDN, Value: "cn=spoke1.example.com,o=x"}, "example.com", true},
		{"eap prefix", "B:337-431", "m-host", Identity{Type: IDEAP, Value: "bob@corp"}, "bob", true},
		{"eap suffix", "G:1832-1862", "m-dom", Identity{Type: IDEAP, Value: "bob.corp"}, "corp", true},
		{"eap dn", "G:1832-1862", "m-all", Identity{Type: IDEAP, Value: "cn=bob,ou=sales"}, "sales", true},
		{"eap without delimiter", "G:1832-1862", "m-host", Identity{Type: IDEAP, Value: "bob"}, "", false},
		{"no rule for key-id", "G:1832-1862", "m-host", Identity{Type: IDKeyID, Value: "x"}, "", false},
		{"missing dn field", "G:1832-1862", "m-host", Identity{Type: IDDN, Value: "ou=flex"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := cfg.NameMangler(tc.mangler).Username(tc.id)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("%s: got %q,%v want %q,%v", tc.source, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCombinations(t *testing.T) {
	// G:1264-1284 (Appendix A G12): proposal-2 expands to
	// (aes-cbc-128, sha1, 14) then (aes-cbc-192, sha1, 14).
	cfg := mustParse(t, "crypto ikev2 proposal proposal-2\n encryption aes-cbc-128 aes-cbc-192\n integrity sha1\n group 14\n"+
		"crypto ikev2 proposal g\n encryption aes-gcm-256\n prf sha256 sha384\n group 19\n")
	got := cfg.Proposal("proposal-2").Combinations()
	want := []IKESuite{{EncrAESCBC128, IntegSHA1, PRFSHA1, 14}, {EncrAESCBC192, IntegSHA1, PRFSHA1, 14}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v want %v", got, want)
	}
	g := cfg.Proposal("g").Combinations()
	if len(g) != 2 || g[0].Integrity != 0 || g[1].PRF != PRFSHA384 {
		t.Fatalf("AES-GCM combinations: %v", g)
	}
	if n := len(cfg.Proposal("default").Combinations()); n != 3*5*5*2 {
		t.Fatalf("default proposal has %d combinations, want 150", n)
	}
	enc, bits, integ, prf, dh := g[0].IANAIDs()
	if enc != wire.EncrAESGCM16 || bits != 256 || integ != wire.IntegNone || prf != wire.PRFHMACSHA2256 || dh != wire.DHECP256 {
		t.Fatalf("IANA IDs %d %d %d %d %d", enc, bits, integ, prf, dh)
	}
}
