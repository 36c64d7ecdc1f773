package lab

import (
	"errors"
	"log/slog"
	"net/netip"
)

// NetnsDir is where named network namespaces are bind-mounted (the same place
// as "ip netns").
const NetnsDir = "/run/netns"

// ErrExists is returned by Up when namespaces with the lab's prefix already
// exist: another lab, or the remains of a crashed one ("esphub-lab down").
var ErrExists = errors.New("lab already exists")

// ErrNotSupported is returned on systems without Linux network namespaces.
var ErrNotSupported = errors.New("lab: network namespaces need Linux")

// Options tune Up and Attach.
type Options struct {
	// Prefix names the lab; namespaces are "<Prefix>-<node>". Empty means the
	// spec's prefix, or "lab" when the spec names none.
	Prefix string
	// Logger receives progress at debug level; nil discards it.
	Logger *slog.Logger

	// stepHook, when set, is called before each step of Up; an error stops Up
	// there without cleaning up (tests use it to simulate a crash).
	stepHook func(step string) error
}

// Lab is a running topology: the spec plus the prefix its namespaces carry.
// Its methods are safe for concurrent use; Lab holds no open resources, so a
// Lab obtained by Attach in another process is as good as the one Up returned.
type Lab struct {
	spec   *Spec
	prefix string
	log    *slog.Logger
}

// Attach returns a Lab for a topology that is already up (from esphub-lab up,
// or another process). It creates nothing; Missing tells which nodes are absent.
func Attach(spec *Spec, opts Options) (*Lab, error) {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = spec.Prefix
	}
	if prefix == "" {
		prefix = "lab"
	}
	if err := CheckPrefix(prefix); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Lab{spec: spec, prefix: prefix, log: log.With("lab", prefix)}, nil
}

// Spec returns the lab's spec.
func (l *Lab) Spec() *Spec { return l.spec }

// Prefix returns the lab's prefix.
func (l *Lab) Prefix() string { return l.prefix }

// Netns returns the name of node's network namespace ("<prefix>-<node>"), as
// used by "ip netns exec".
func (l *Lab) Netns(node string) string { return l.prefix + "-" + node }

// Addrs returns the addresses the spec puts on node's interface iface ("lo"
// for loopback addresses). The slice must not be modified.
func (l *Lab) Addrs(node, iface string) []netip.Prefix { return l.spec.Addrs(node, iface) }

// Addr returns the first address of node's iface in spec order ("lo" for
// the loopback), or the zero Addr when there is none.
func (l *Lab) Addr(node, iface string) netip.Addr {
	if a := l.Addrs(node, iface); len(a) > 0 {
		return a[0].Addr()
	}
	return netip.Addr{}
}

// Addr4 returns the first IPv4 address of node's iface, or the zero Addr.
func (l *Lab) Addr4(node, iface string) netip.Addr { return firstAddr(l.Addrs(node, iface), true) }

// Addr6 returns the first IPv6 address of node's iface, or the zero Addr.
func (l *Lab) Addr6(node, iface string) netip.Addr { return firstAddr(l.Addrs(node, iface), false) }

func firstAddr(list []netip.Prefix, v4 bool) netip.Addr {
	for _, p := range list {
		if p.Addr().Is4() == v4 {
			return p.Addr()
		}
	}
	return netip.Addr{}
}
