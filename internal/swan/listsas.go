package swan

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// IKESA is one IKE SA as strongSwan reports it (swanctl --list-sas).
type IKESA struct {
	Name                  string // connection name
	UniqueID              int
	State                 string // ESTABLISHED, CONNECTING, REKEYING, DELETING, ...
	LocalHost, RemoteHost netip.Addr
	LocalPort, RemotePort int
	LocalID, RemoteID     string
	Initiator             bool
	SPIi, SPIr            uint64
	NATLocal, NATRemote   bool
	EncrAlg               string // e.g. AES_GCM_16
	EncrKeySize           int
	IntegAlg, PRFAlg      string
	DHGroup               string // e.g. ECP_256
	// LocalVIPs and RemoteVIPs are virtual IPs assigned through
	// configuration payloads.
	LocalVIPs, RemoteVIPs []string
	Children              []ChildSA
	// Fields holds every scalar the listing had, for what the typed
	// fields do not cover.
	Fields map[string]string
}

// ChildSA is one CHILD_SA of an IKESA.
type ChildSA struct {
	Name                 string
	UniqueID, ReqID      int
	State                string // INSTALLED, REKEYED, ...
	Mode, Protocol       string
	Encap                bool
	SPIIn, SPIOut        uint32
	EncrAlg              string
	EncrKeySize          int
	IntegAlg, DHGroup    string
	BytesIn, PacketsIn   uint64
	BytesOut, PacketsOut uint64
	LocalTS, RemoteTS    []string
	Fields               map[string]string
}

// Child returns the first CHILD_SA called name in the given state ("" for
// any), and false if there is none.
func (s IKESA) Child(name, state string) (ChildSA, bool) {
	for _, c := range s.Children {
		if c.Name == name && (state == "" || c.State == state) {
			return c, true
		}
	}
	return ChildSA{}, false
}

// Installed returns the CHILD_SAs in state INSTALLED (during a rekey the
// old SA lingers as REKEYED or DELETING).
func (s IKESA) Installed() []ChildSA {
	var out []ChildSA
	for _, c := range s.Children {
		if c.State == "INSTALLED" {
			out = append(out, c)
		}
	}
	return out
}

// section is a node of swanctl's --pretty output.
type section struct {
	name     string
	fields   map[string]string
	lists    map[string][]string
	children []*section
}

// parsePretty reads swanctl's --pretty rendering of vici messages:
// "name {" opens a section, "}" closes it, "key = value" is a scalar,
// "key = [" starts a list ended by "]".
func parsePretty(text string) ([]*section, error) {
	root := &section{}
	stack := []*section{root}
	var listKey string
	var inList bool
	for n, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		top := stack[len(stack)-1]
		switch {
		case inList:
			if line == "]" {
				inList = false
				continue
			}
			top.lists[listKey] = append(top.lists[listKey], line)
		case line == "}":
			if len(stack) == 1 {
				return nil, fmt.Errorf("list-sas line %d: unbalanced }", n+1)
			}
			stack = stack[:len(stack)-1]
		case strings.HasSuffix(line, " {") || line == "{":
			s := &section{name: strings.TrimSpace(strings.TrimSuffix(line, "{")),
				fields: map[string]string{}, lists: map[string][]string{}}
			top.children = append(top.children, s)
			stack = append(stack, s)
		default:
			k, v, ok := strings.Cut(line, " = ")
			if !ok {
				if k2, ok2 := strings.CutSuffix(line, " ="); ok2 {
					k, v, ok = k2, "", true
				}
			}
			if !ok {
				return nil, fmt.Errorf("list-sas line %d: cannot parse %q", n+1, line)
			}
			if top == root {
				return nil, fmt.Errorf("list-sas line %d: field outside a section", n+1)
			}
			if v == "[" {
				inList, listKey = true, k
				top.lists[k] = []string{}
				continue
			}
			top.fields[k] = v
		}
	}
	if len(stack) != 1 || inList {
		return nil, fmt.Errorf("list-sas: truncated output")
	}
	return root.children, nil
}

// ParseListSAs parses the output of swanctl --list-sas --pretty.
func ParseListSAs(text string) ([]IKESA, error) {
	events, err := parsePretty(text)
	if err != nil {
		return nil, err
	}
	var out []IKESA
	for _, ev := range events {
		if ev.name != "list-sa event" {
			continue
		}
		for _, ike := range ev.children {
			out = append(out, ikeFrom(ike))
		}
	}
	return out, nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func atou(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

func hex64(s string) uint64 {
	n, _ := strconv.ParseUint(s, 16, 64)
	return n
}

func ikeFrom(s *section) IKESA {
	f := s.fields
	sa := IKESA{
		Name: s.name, UniqueID: atoi(f["uniqueid"]), State: f["state"],
		LocalPort: atoi(f["local-port"]), RemotePort: atoi(f["remote-port"]),
		LocalID: f["local-id"], RemoteID: f["remote-id"], Initiator: f["initiator"] == "yes",
		SPIi: hex64(f["initiator-spi"]), SPIr: hex64(f["responder-spi"]),
		NATLocal: f["nat-local"] == "yes", NATRemote: f["nat-remote"] == "yes",
		EncrAlg: f["encr-alg"], EncrKeySize: atoi(f["encr-keysize"]), IntegAlg: f["integ-alg"],
		PRFAlg: f["prf-alg"], DHGroup: f["dh-group"], Fields: f,
		LocalVIPs: s.lists["local-vips"], RemoteVIPs: s.lists["remote-vips"],
	}
	sa.LocalHost, _ = netip.ParseAddr(f["local-host"])
	sa.RemoteHost, _ = netip.ParseAddr(f["remote-host"])
	for _, sub := range s.children {
		if sub.name != "child-sas" {
			continue
		}
		for _, c := range sub.children {
			cf := c.fields
			sa.Children = append(sa.Children, ChildSA{
				Name: cf["name"], UniqueID: atoi(cf["uniqueid"]), ReqID: atoi(cf["reqid"]),
				State: cf["state"], Mode: cf["mode"], Protocol: cf["protocol"], Encap: cf["encap"] == "yes",
				SPIIn: uint32(hex64(cf["spi-in"])), SPIOut: uint32(hex64(cf["spi-out"])),
				EncrAlg: cf["encr-alg"], EncrKeySize: atoi(cf["encr-keysize"]), IntegAlg: cf["integ-alg"],
				DHGroup: cf["dh-group"],
				BytesIn: atou(cf["bytes-in"]), PacketsIn: atou(cf["packets-in"]),
				BytesOut: atou(cf["bytes-out"]), PacketsOut: atou(cf["packets-out"]),
				LocalTS: c.lists["local-ts"], RemoteTS: c.lists["remote-ts"], Fields: cf,
			})
		}
	}
	return sa
}
