package swan

import (
	"strings"
	"testing"
	"time"
)

func TestRenderSwanctl(t *testing.T) {
	c := Config{
		Conns: []Conn{{
			Name: "hub", LocalAddrs: []string{"198.18.0.2"}, RemoteAddrs: []string{"%any"},
			LocalID: "hub.test", RemoteID: "C=US, O=esphub, CN=spoke", Pools: []string{"p4"},
			DPDDelay: 10 * time.Second, RekeyTime: -1, Extra: map[string]string{"mobike": "no"},
			Children: []Child{{Name: "net", LocalTS: []string{"0.0.0.0/0"}, RekeyTime: 90 * time.Second}},
		}},
		Secrets: []Secret{{Name: "s", IDs: []string{"hub.test"}, PSK: `with "quotes" and spaces`}},
		Pools:   map[string]string{"p4": "198.19.255.0/24"},
	}
	got := c.RenderSwanctl()
	for _, want := range []string{
		"hub {\n        version = 2\n",
		"remote_addrs = %any\n",
		"proposals = aes256gcm16-prfsha256-ecp256\n",
		"pools = p4\n",
		"dpd_delay = 10s\n",
		"rekey_time = 0\n",
		"mobike = no\n",
		`id = "C=US, O=esphub, CN=spoke"`,
		"esp_proposals = aes256gcm16\n",
		"mode = tunnel\n",
		"start_action = none\n",
		"rekey_time = 90s\n",
		"ike-s {\n        id-0 = hub.test\n",
		`secret = "with \"quotes\" and spaces"`,
		"pools {\n    p4 {\n        addrs = 198.19.255.0/24\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered swanctl.conf lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "{") != strings.Count(got, "}") {
		t.Errorf("unbalanced braces:\n%s", got)
	}
	sc := c.renderStrongswan("/tmp/x")
	for _, want := range []string{"ike = 4\n", "chd = 4\n", "socket = unix:///tmp/x/charon.vici", "kernel-libipsec kernel-netlink"} {
		if !strings.Contains(sc, want) {
			t.Errorf("strongswan.conf lacks %q:\n%s", want, sc)
		}
	}
}
