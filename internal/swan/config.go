package swan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Config describes one strongSwan instance.
type Config struct {
	// Name labels the instance in logs and errors (default "swan").
	Name string
	// Conns and Secrets are rendered into swanctl.conf. SwanctlConf, if
	// set, is used verbatim instead.
	Conns   []Conn
	Secrets []Secret
	// Pools are virtual IP address pools (name → addrs, e.g.
	// "198.19.255.0/24") a responder hands out through configuration
	// payloads; a Conn refers to them in Pools.
	Pools       map[string]string
	SwanctlConf string
	// Charon holds extra charon.* settings of strongswan.conf, e.g.
	// {"block_threshold": "1000", "init_limit_half_open": "1000"} for a
	// responder that takes many connections.
	Charon map[string]string
	// LogLevels overrides charon's file log levels per subsystem. The
	// defaults log keys (ike = 4, chd = 4) so that Keys can read them;
	// they must stay at 4 for Keys to work.
	LogLevels map[string]int
	// Dir is the instance's working directory (configs, log, vici socket,
	// private /run). Empty creates a temporary one, removed by Stop.
	Dir string
	// StartTimeout bounds the wait for charon's vici socket (default 30s).
	StartTimeout time.Duration
}

// Conn is one swanctl connection (an IKE SA configuration).
type Conn struct {
	Name                    string
	LocalAddrs, RemoteAddrs []string
	// LocalPort and RemotePort default to strongSwan's 500.
	LocalPort, RemotePort int
	// Proposals are IKE proposals in strongSwan notation (default
	// aes256gcm16-prfsha256-ecp256).
	Proposals []string
	// LocalID and RemoteID are the IKE identities; LocalAuth and
	// RemoteAuth default to psk.
	LocalID, RemoteID     string
	LocalAuth, RemoteAuth string
	// Encap forces UDP encapsulation; kernel-libipsec fakes NAT-D anyway.
	Encap bool
	// VIPs requests virtual IPs through a configuration payload
	// (initiator, e.g. "0.0.0.0"); Pools serves them (responder).
	VIPs, Pools []string
	// DPDDelay enables liveness checks; RekeyTime and ReauthTime schedule
	// IKE rekeying and reauthentication (0 leaves strongSwan's defaults;
	// a negative value disables).
	DPDDelay, RekeyTime, ReauthTime time.Duration
	// Extra holds further "key = value" settings of the connection, e.g.
	// {"mobike": "no", "fragmentation": "yes"}.
	Extra    map[string]string
	Children []Child
}

// Child is a CHILD_SA configuration of a Conn.
type Child struct {
	Name              string
	LocalTS, RemoteTS []string
	// ESPProposals default to aes256gcm16.
	ESPProposals []string
	// Mode defaults to tunnel, StartAction to none.
	Mode, StartAction string
	// RekeyTime schedules Child SA rekeying (0: strongSwan's default,
	// negative: disabled).
	RekeyTime time.Duration
	Extra     map[string]string
}

// Secret is a pre-shared key for a set of identities.
type Secret struct {
	Name string
	IDs  []string
	PSK  string
}

func dur(d time.Duration) string {
	if d < 0 {
		return "0"
	}
	return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
}

// quote renders a swanctl.conf value, quoting when it holds characters
// the parser would split on.
func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t{}=,#\"\n") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return s
}

func list(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = quote(s)
	}
	return strings.Join(q, ",")
}

func writeExtra(b *strings.Builder, indent string, m map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(b, "%s%s = %s\n", indent, k, quote(m[k]))
	}
}

// RenderSwanctl returns the swanctl.conf text for c.
func (c Config) RenderSwanctl() string {
	if c.SwanctlConf != "" {
		return c.SwanctlConf
	}
	var b strings.Builder
	b.WriteString("connections {\n")
	for _, cn := range c.Conns {
		fmt.Fprintf(&b, "    %s {\n        version = 2\n", cn.Name)
		if len(cn.LocalAddrs) > 0 {
			fmt.Fprintf(&b, "        local_addrs = %s\n", list(cn.LocalAddrs))
		}
		if len(cn.RemoteAddrs) > 0 {
			fmt.Fprintf(&b, "        remote_addrs = %s\n", list(cn.RemoteAddrs))
		}
		if cn.LocalPort != 0 {
			fmt.Fprintf(&b, "        local_port = %d\n", cn.LocalPort)
		}
		if cn.RemotePort != 0 {
			fmt.Fprintf(&b, "        remote_port = %d\n", cn.RemotePort)
		}
		props := cn.Proposals
		if len(props) == 0 {
			props = []string{"aes256gcm16-prfsha256-ecp256"}
		}
		fmt.Fprintf(&b, "        proposals = %s\n", list(props))
		if cn.Encap {
			b.WriteString("        encap = yes\n")
		}
		if len(cn.VIPs) > 0 {
			fmt.Fprintf(&b, "        vips = %s\n", list(cn.VIPs))
		}
		if len(cn.Pools) > 0 {
			fmt.Fprintf(&b, "        pools = %s\n", list(cn.Pools))
		}
		if cn.DPDDelay != 0 {
			fmt.Fprintf(&b, "        dpd_delay = %s\n", dur(cn.DPDDelay))
		}
		if cn.RekeyTime != 0 {
			fmt.Fprintf(&b, "        rekey_time = %s\n", dur(cn.RekeyTime))
		}
		if cn.ReauthTime != 0 {
			fmt.Fprintf(&b, "        reauth_time = %s\n", dur(cn.ReauthTime))
		}
		writeExtra(&b, "        ", cn.Extra)
		auth := func(a string) string {
			if a == "" {
				return "psk"
			}
			return a
		}
		fmt.Fprintf(&b, "        local {\n            auth = %s\n", auth(cn.LocalAuth))
		if cn.LocalID != "" {
			fmt.Fprintf(&b, "            id = %s\n", quote(cn.LocalID))
		}
		fmt.Fprintf(&b, "        }\n        remote {\n            auth = %s\n", auth(cn.RemoteAuth))
		if cn.RemoteID != "" {
			fmt.Fprintf(&b, "            id = %s\n", quote(cn.RemoteID))
		}
		b.WriteString("        }\n        children {\n")
		for _, ch := range cn.Children {
			fmt.Fprintf(&b, "            %s {\n", ch.Name)
			if len(ch.LocalTS) > 0 {
				fmt.Fprintf(&b, "                local_ts = %s\n", list(ch.LocalTS))
			}
			if len(ch.RemoteTS) > 0 {
				fmt.Fprintf(&b, "                remote_ts = %s\n", list(ch.RemoteTS))
			}
			esp := ch.ESPProposals
			if len(esp) == 0 {
				esp = []string{"aes256gcm16"}
			}
			fmt.Fprintf(&b, "                esp_proposals = %s\n", list(esp))
			mode, start := ch.Mode, ch.StartAction
			if mode == "" {
				mode = "tunnel"
			}
			if start == "" {
				start = "none"
			}
			fmt.Fprintf(&b, "                mode = %s\n                start_action = %s\n", mode, start)
			if ch.RekeyTime != 0 {
				fmt.Fprintf(&b, "                rekey_time = %s\n", dur(ch.RekeyTime))
			}
			writeExtra(&b, "                ", ch.Extra)
			b.WriteString("            }\n")
		}
		b.WriteString("        }\n    }\n")
	}
	b.WriteString("}\nsecrets {\n")
	for i, s := range c.Secrets {
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("ike-%d", i)
		}
		if !strings.HasPrefix(name, "ike") {
			name = "ike-" + name
		}
		fmt.Fprintf(&b, "    %s {\n", name)
		for j, id := range s.IDs {
			fmt.Fprintf(&b, "        id-%d = %s\n", j, quote(id))
		}
		fmt.Fprintf(&b, "        secret = %s\n    }\n", quote(s.PSK))
	}
	b.WriteString("}\n")
	if len(c.Pools) > 0 {
		b.WriteString("pools {\n")
		for _, name := range slices.Sorted(maps.Keys(c.Pools)) {
			fmt.Fprintf(&b, "    %s {\n        addrs = %s\n    }\n", name, quote(c.Pools[name]))
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// DefaultLogLevels are the charon file log levels an Instance uses unless
// Config.LogLevels overrides them. ike and chd at 4 log SKEYSEED, SK_* and
// the Child SA keys.
var DefaultLogLevels = map[string]int{"ike": 4, "chd": 4, "cfg": 2, "knl": 2, "enc": 1, "net": 1, "esp": 1}

// plugins are loaded in this order; kernel-libipsec must come before
// kernel-netlink (strongswan-peer.md).
const plugins = "random nonce openssl pem pkcs1 x509 pubkey revocation constraints kdf gmp curve25519 aes gcm sha1 sha2 hmac kernel-libipsec kernel-netlink socket-default vici updown"

func (c Config) renderStrongswan(dir string) string {
	levels := maps.Clone(DefaultLogLevels)
	maps.Copy(levels, c.LogLevels)
	var b strings.Builder
	fmt.Fprintf(&b, "charon {\n    load_modular = no\n    load = %s\n", plugins)
	settings := map[string]string{"install_routes": "yes", "install_virtual_ip": "no", "retransmit_tries": "3"}
	maps.Copy(settings, c.Charon)
	writeExtra(&b, "    ", settings)
	fmt.Fprintf(&b, "    filelog {\n        peer {\n            path = %s/charon.log\n", dir)
	b.WriteString("            time_format = %H:%M:%S\n            append = no\n            flush_line = yes\n            default = 1\n")
	for _, k := range slices.Sorted(maps.Keys(levels)) {
		fmt.Fprintf(&b, "            %s = %d\n", k, levels[k])
	}
	fmt.Fprintf(&b, "        }\n    }\n    plugins {\n        vici {\n            socket = unix://%s/charon.vici\n        }\n    }\n}\n", dir)
	b.WriteString("swanctl {\n    load = pem pkcs1 x509 revocation constraints pubkey openssl random\n}\n")
	return b.String()
}
