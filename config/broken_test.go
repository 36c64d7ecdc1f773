package config

import (
	"strings"
	"testing"
)

// brokenCase is a configuration with exactly one mistake, and where the one
// error about it must point.
type brokenCase struct {
	name      string
	src       string
	line, col int
	want      string // substring of the message
}

var brokenCases = []brokenCase{
	{"dangling keyring", "crypto ikev2 profile p\n match identity remote fqdn a.example\n authentication local pre-share\n authentication remote pre-share\n keyring local nokr\n", 5, 16, `keyring "nokr" is not defined`},
	{"dangling transform set", "crypto ipsec profile ip\n set transform-set missing\n", 2, 20, `transform set "missing" is not defined`},
	{"dangling ipsec profile", "interface Tunnel0\n ip address 198.18.0.1 255.255.255.252\n tunnel protection ipsec profile nope\n", 3, 34, `IPsec profile "nope" is not defined`},
	{"dangling ikev2 profile", "crypto ipsec profile ip\n set ikev2-profile ghost\n", 2, 20, `IKEv2 profile "ghost" is not defined`},
	{"dangling proposal", "crypto ikev2 policy p\n proposal nope\n", 2, 11, `proposal "nope" is not defined`},
	{"dangling certificate map", "crypto ikev2 profile p\n match certificate nomap\n authentication local rsa-sig\n authentication remote rsa-sig\n", 2, 20, `certificate map "nomap" is not defined`},
	{"dangling shortcut template", "interface Tunnel1\n ip nhrp shortcut virtual-template 9\n", 2, 36, "Virtual-Template9, which is not defined"},
	{"dangling vrf", "interface GigabitEthernet1\n vrf forwarding red\n", 2, 17, `VRF "red" is not defined`},
	{"dangling unnumbered", "interface Virtual-Template1 type tunnel\n ip unnumbered Loopback9\n", 2, 16, "Loopback9, which is not defined"},
	{"dangling name mangler", "crypto ikev2 profile p\n match identity remote any\n authentication local rsa-sig\n authentication remote rsa-sig\n aaa authorization group cert list l name-mangler nm\n", 5, 2, `name mangler "nm" is not defined`},
	{"incomplete proposal", "crypto ikev2 proposal p\n encryption aes-cbc-128\n integrity sha1\n", 1, 23, "Proposal Incomplete: no DH group"},
	{"proposal without integrity", "crypto ikev2 proposal p\n encryption aes-cbc-256\n group 14\n", 1, 23, "no integrity"},
	{"integrity with aes-gcm", "crypto ikev2 proposal p\n encryption aes-gcm-256\n integrity sha256\n prf sha256\n group 19\n", 1, 23, "integrity is not allowed"},
	{"gcm without prf", "crypto ikev2 proposal p\n encryption aes-gcm-128\n group 19\n", 1, 23, "prf is mandatory"},
	{"unknown algorithm", "crypto ikev2 proposal p\n encryption aes-xts\n", 2, 13, `unknown algorithm "aes-xts"`},
	{"bad mask", "interface GigabitEthernet1\n ip address 198.18.0.1 255.0.255.0\n", 2, 24, "not a valid netmask"},
	{"bad address", "interface GigabitEthernet1\n ip address 198.18.0.300 255.255.255.0\n", 2, 13, "is not an IPv4 address"},
	{"network address", "interface GigabitEthernet1\n ip address 198.18.0.0 255.255.255.0\n", 2, 13, "network address"},
	{"window out of range", "crypto ikev2 window 201\n", 1, 21, "out of range 1-200"},
	{"fragmentation mtu out of range", "crypto ikev2 fragmentation mtu 67\n", 1, 32, "out of range 68-1500"},
	{"dpd interval out of range", "crypto ikev2 dpd 5 2 on-demand\n", 1, 18, "out of range 10-3600"},
	{"dpd retry out of range", "crypto ikev2 profile p\n dpd 10 61 periodic\n", 2, 9, "out of range 2-60"},
	{"dpd mode", "crypto ikev2 dpd 10 2 sometimes\n", 1, 23, "expected on-demand or periodic"},
	{"route accept tag out of range", "crypto ikev2 authorization policy a\n route accept any tag 497778\n", 2, 23, "out of range 1-497777"},
	{"unknown command", "crypto ikev2 frobnicate 3\n", 1, 1, `unknown command "crypto ikev2 frobnicate 3"`},
	{"sub-command in the wrong mode", "crypto ikev2 proposal p\n encryption aes-cbc-128\n integrity sha1\n group 14\ninterface Tunnel0\n pre-shared-key abc\n", 6, 2, "not valid in interface mode; it is a sub-command of crypto ikev2 keyring peer"},
	{"sub-command at top level", "match fvrf any\n", 1, 1, "not valid at the top level"},
	{"tunnel command on physical", "interface GigabitEthernet1\n tunnel mode gre ip\n", 2, 2, "only valid on Tunnel and Virtual-Template"},
	{"bad tunnel mode", "interface Tunnel0\n tunnel mode vxlan\n", 2, 14, `"vxlan" is not supported`},
	{"gcm with integrity in transform set", "crypto ipsec transform-set t esp-gcm 256 esp-sha-hmac\n", 1, 42, "not allowed with it"},
	{"bad transform mode", "crypto ipsec transform-set t esp-aes esp-sha-hmac\n mode bus\n", 2, 7, "expected tunnel or transport"},
	{"pfs group", "crypto ipsec profile ip\n set pfs group99\n", 2, 10, "not a supported group"},
	{"keyring peer without key", "crypto ikev2 keyring k\n peer a\n  address 198.18.0.2\n", 2, 2, "no pre-shared-key"},
	{"duplicate identity", "crypto ikev2 keyring k\n peer a\n  identity fqdn a.example\n  pre-shared-key x\n peer b\n  identity fqdn a.example\n  pre-shared-key y\n", 6, 12, "already used by another peer"},
	{"pool range reversed", "ip local pool p 198.18.0.10 198.18.0.1\n", 1, 29, "below first address"},
	{"route host bits in ipv6", "ipv6 route 2001:db8::1/64 Null0\n", 1, 12, "host bits"},
	{"identity any combined", "crypto ikev2 profile p\n match identity remote any\n match identity remote fqdn a.example\n authentication local rsa-sig\n authentication remote rsa-sig\n", 2, 24, "cannot be combined"},
	{"cert authorization without name", "crypto ikev2 profile p\n aaa authorization group cert list l\n", 2, 37, "username or name-mangler is required"},
	{"bad rd", "vrf definition v\n rd 1-1\n", 2, 5, "not a route distinguisher"},
	{"sgt out of range", "cts role-based sgt-map 198.18.0.0/24 sgt 70000\n", 1, 42, "out of range 2-65519"},
	{"default ipsec profile disabled", "no crypto ipsec profile default\ninterface Tunnel0\n tunnel protection ipsec profile default\n", 3, 34, "default IPsec profile is disabled"},
	{"missing argument", "no crypto ikev2 keyring\n", 1, 24, "missing keyring name"},
}

// TestBrokenConfigs checks that each broken configuration yields exactly
// one error, at the right line and column.
func TestBrokenConfigs(t *testing.T) {
	for _, bc := range brokenCases {
		t.Run(bc.name, func(t *testing.T) {
			cfg, diags := Parse("broken.cfg", []byte(bc.src))
			errs := diags.Errors()
			if cfg != nil || len(errs) != 1 {
				t.Fatalf("want exactly one error, got %d:\n%v", len(errs), diags)
			}
			e := errs[0]
			if e.Pos.Line != bc.line || e.Pos.Col != bc.col || !strings.Contains(e.Msg, bc.want) {
				t.Fatalf("got  %s\nwant broken.cfg:%d:%d: ...%s...", e, bc.line, bc.col, bc.want)
			}
		})
	}
}

func init() {
	brokenCases = append(brokenCases,
		brokenCase{"tunnel family mismatch", "interface Tunnel0\n tunnel mode ipsec ipv4\n tunnel destination 2001:db8::1\n", 3, 21, "is IPv6 but tunnel mode ipsec ipv4 runs over IPv4"},
		brokenCase{"default gre mode over IPv4", "interface Tunnel0\n tunnel source 2001:db8::2\n", 2, 16, "tunnel mode gre ip runs over IPv4"},
	)
}
