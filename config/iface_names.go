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

var interfaceAbbrev = map[string]string{
	"g": "GigabitEthernet", "gi": "GigabitEthernet", "gig": "GigabitEthernet",
	"e": "Ethernet", "eth": "Ethernet", "et": "Ethernet",
	"f": "FastEthernet", "fa": "FastEthernet",
	"te": "TenGigabitEthernet", "lo": "Loopback", "tu": "Tunnel",
	"vt": "Virtual-Template", "po": "Port-channel", "se": "Serial",
}

// canonicalInterface turns an IOS interface name in any accepted spelling
// into its canonical form, e.g. "tunnel0" → "Tunnel0", "g1" →
// "GigabitEthernet1", "Virtual-Templat1" → "Virtual-Template1". num is the
// interface number for Tunnel, Loopback and Virtual-Template.
func canonicalInterface(s string) (name string, kind InterfaceKind, num int, ok bool) {
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
