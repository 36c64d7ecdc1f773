package config

import (
	"strconv"
	"strings"
)

// interfaceTypes are the IOS interface type names esphub knows, in the
// order abbreviations are resolved (IOS accepts any unambiguous prefix; the
// short forms below are the usual ones: `g1`, `e0/0`, `lo0`, `tu0`).
var interfaceTypes = []struct {
	name string
	kind InterfaceKind
}{
	{"Tunnel", KindTunnel},
	{"Loopback", KindLoopback},
	{"Virtual-Template", KindVirtualTemplate},
	{"GigabitEthernet", KindPhysical},
	{"Ethernet", KindPhysical},
	{"FastEthernet", KindPhysical},
	{"TenGigabitEthernet", KindPhysical},
	{"FortyGigabitEthernet", KindPhysical},
	{"HundredGigE", KindPhysical},
	{"Port-channel", KindPhysical},
	{"Vlan", KindPhysical},
	{"Dialer", KindPhysical},
	{"Cellular", KindPhysical},
	{"Serial", KindPhysical},
	{"BDI", KindPhysical},
	{"Null", KindPhysical},
	{"Virtual-Access", KindPhysical},
}

// interfaceAbbrev holds the short IOS type names in common use (`g1` in
// [B], `lo0`, `tu0`). `e`, `et` and `eth` are left out on purpose: on Linux
// `eth0` is a host interface name, not IOS's Ethernet0.
var interfaceAbbrev = map[string]string{
	"g": "GigabitEthernet", "gi": "GigabitEthernet", "gig": "GigabitEthernet",
	"fa": "FastEthernet", "te": "TenGigabitEthernet", "lo": "Loopback", "tu": "Tunnel",
	"vt": "Virtual-Template", "po": "Port-channel", "se": "Serial",
}

// canonicalInterface turns an interface name in any accepted spelling into
// its canonical form. IOS names are canonicalised ("tunnel0" → "Tunnel0",
// "g1" → "GigabitEthernet1", "Virtual-Templat1" → "Virtual-Template1": IOS
// accepts any unambiguous prefix of the type). A lower-case name that is
// neither a full IOS type name nor one of the usual abbreviations is a Linux
// host interface ("eth0", "ens5", "enp0s3", "tun0", "lo") and is kept as
// written. num is the interface number for Tunnel, Loopback and
// Virtual-Template.
func canonicalInterface(s string) (name string, kind InterfaceKind, num int, ok bool) {
	if linuxIfName(s) {
		return s, KindPhysical, 0, true
	}
	i := strings.IndexAny(s, "0123456789")
	if i <= 0 {
		return "", "", 0, false
	}
	typ, rest := s[:i], s[i:]
	if strings.Trim(rest, "0123456789/.:") != "" {
		return "", "", 0, false
	}
	full := ""
	if a, ok := interfaceAbbrev[strings.ToLower(typ)]; ok {
		full = a
	} else if strings.EqualFold(typ, "e") && strings.Contains(rest, "/") {
		full = "Ethernet" // e0/0; a lone "e" with a slot/port is IOS's
	} else {
		for _, t := range interfaceTypes {
			if len(typ) >= 2 && strings.HasPrefix(strings.ToLower(t.name), strings.ToLower(typ)) {
				full = t.name
				break
			}
		}
	}
	if full == "" {
		return "", "", 0, false
	}
	for _, t := range interfaceTypes {
		if t.name == full {
			kind = t.kind
		}
	}
	if kind != KindPhysical {
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 || n > 2147483647 {
			return "", "", 0, false
		}
		num = n
		rest = strconv.Itoa(n)
	}
	return full + rest, kind, num, true
}

// linuxIfName reports whether s is written as a Linux interface name rather
// than an IOS one (see canonicalInterface).
func linuxIfName(s string) bool {
	if s == "" || len(s) > 15 || s[0] == '-' || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	typ := strings.TrimRight(s, "0123456789.")
	if typ == s {
		return true // IOS names always carry a number ("lo" is Linux's)
	}
	if _, ok := interfaceAbbrev[typ]; ok {
		return false
	}
	for _, t := range interfaceTypes {
		if strings.ToLower(t.name) == typ {
			return false
		}
	}
	return true
}

// interfaceArg parses an interface name at argument i, which may be written
// as one word ("Tunnel0") or two ("Tunnel 0"); it must be the last argument.
func interfaceArg(c *ctx, i int) (string, bool) {
	name, n, ok := interfaceWords(c, i)
	if !ok {
		return "", false
	}
	if !c.nargs(i+n, i+n, "") {
		return "", false
	}
	return name, true
}

// interfaceArgFrom is interfaceArg for the last words of a line.
func interfaceArgFrom(c *ctx, i int) (string, bool) { return interfaceArg(c, i) }

// interfaceWords parses an interface name at i and says how many words it used.
func interfaceWords(c *ctx, i int) (string, int, bool) {
	s, ok := c.arg(i, "interface")
	if !ok {
		return "", 0, false
	}
	if name, _, _, ok := canonicalInterface(s); ok {
		return name, 1, true
	}
	if i+1 < len(c.args) {
		if name, _, _, ok := canonicalInterface(s + c.args[i+1].text); ok && strings.Trim(c.args[i+1].text[:1], "0123456789") == "" {
			return name, 2, true
		}
	}
	c.errf(i, "%s: %q is not an interface name", c.what(), s)
	return "", 0, false
}
