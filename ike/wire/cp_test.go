package wire

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestConfigurationHelpers(t *testing.T) {
	pf := netip.MustParsePrefix
	ad := netip.MustParseAddr
	reply := &Configuration{CFGType: CFGReply, Attributes: []ConfigAttribute{
		AddrAttribute(AttrInternalIP4Address, ad("198.19.100.7")),
		AddrAttribute(AttrInternalIP4Netmask, ad("255.255.255.0")),
		AddrAttribute(AttrInternalIP4DNS, ad("198.19.2.53")),
		AddrAttribute(AttrInternalIP4DNS, ad("198.19.2.54")),
		SubnetAttribute(pf("198.19.0.1/32")),
		SubnetAttribute(pf("198.19.8.0/21")),
		SubnetAttribute(pf("2001:db8:1::/48")),
		IP6AddressAttribute(pf("2001:db8:ff::7/64")),
		{AttrType: AttrUnityBanner, Value: []byte("flexvpn server")},
	}}
	b, err := AppendPayloadChain(nil, []Payload{reply})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := DecodePayloads(PayloadCP, b)
	if err != nil {
		t.Fatal(err)
	}
	cp := ps[0].(*Configuration)
	if got, ok := cp.AssignedPrefix(false); !ok || got != pf("198.19.100.7/24") {
		t.Errorf("AssignedPrefix(v4) = %v %v", got, ok)
	}
	if got, ok := cp.AssignedPrefix(true); !ok || got != pf("2001:db8:ff::7/64") {
		t.Errorf("AssignedPrefix(v6) = %v %v", got, ok)
	}
	if got := cp.AppendAddrs(nil, AttrInternalIP4DNS); !reflect.DeepEqual(got, []netip.Addr{ad("198.19.2.53"), ad("198.19.2.54")}) {
		t.Errorf("DNS = %v", got)
	}
	want := []netip.Prefix{pf("198.19.0.1/32"), pf("198.19.8.0/21"), pf("2001:db8:1::/48")}
	if got := cp.AppendSubnets(nil); !reflect.DeepEqual(got, want) {
		t.Errorf("subnets = %v, want %v", got, want)
	}
	if a, ok := cp.Find(AttrUnityBanner); !ok || string(a.Value) != "flexvpn server" {
		t.Errorf("banner = %q", a.Value)
	}
	// A non-contiguous netmask is not a prefix.
	bad := ConfigAttribute{AttrType: AttrInternalIP4Subnet, Value: []byte{198, 19, 0, 0, 255, 0, 255, 0}}
	if _, ok := bad.Prefix(); ok {
		t.Error("non-contiguous netmask accepted")
	}
	if AttrUnityBanner.String() != "UNITY_BANNER" {
		t.Error(AttrUnityBanner.String())
	}
}
