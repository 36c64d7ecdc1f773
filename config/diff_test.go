package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	src, err := os.ReadFile("testdata/hub.cfg")
	if err != nil {
		t.Fatal(err)
	}
	old := mustParse(t, string(src))
	if d := Diff(old, mustParse(t, "\n"+string(src))); len(d) != 0 {
		t.Fatalf("a shifted file must not differ: %v", d)
	}
	edited := strings.Replace(string(src), " lifetime 3600\n", " lifetime 7200\n", 1)
	edited = strings.Replace(edited, "crypto ikev2 window 20\n", "crypto ikev2 window 30\n", 1)
	edited = strings.Replace(edited, "crypto ipsec transform-set legacy esp-3des esp-sha-hmac\n", "", 1)
	edited += "crypto ikev2 proposal extra\n encryption aes-cbc-128\n integrity sha1\n group 14\n"
	got := Diff(old, mustParse(t, edited))
	want := []Change{
		{Kind: "crypto ikev2", Op: Modified},
		{Kind: "crypto ikev2 proposal", Name: "extra", Op: Added},
		{Kind: "crypto ikev2 profile", Name: "spokes-cert", Op: Modified},
		{Kind: "crypto ipsec transform-set", Name: "legacy", Op: Removed},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}
