// Command esphubd is the esphub appliance: it reads an IOS-style FlexVPN
// configuration, runs IKEv2 on UDP 500/4500, carries ESP through a dataplane
// backend, and answers esphubctl on a unix socket.
//
//	esphubd -config /etc/esphub/esphub.cfg [-api /run/esphub/esphubd.sock]
//	        [-backend auto|portable|afxdp] [-metrics 127.0.0.1:9410]
//	        [-log-level info] [-log-format text|json] [-tun esphub0]
//	        [-xdp-queues N] [-xdp-cpus LIST] [-pki-dir /etc/esphub/pki]
//
// The AF_XDP backend (-backend afxdp, or auto where the kernel allows it)
// attaches XDP steering programs to the Linux interfaces behind the
// configuration's IOS interfaces: the tunnel source is the WAN, the other
// addressed physical interfaces of the global table are LANs. An IOS
// interface maps to the Linux interface of the same name, or else to the
// one holding its configured address. ESP from the WAN and LAN traffic to
// tunnel routes go to AF_XDP workers; everything else, and the router's own
// traffic into the overlay (through the TUN device), takes the kernel and
// the portable path. The programs detach when esphubd exits or is killed.
// A veth LAN interface needs transmit checksum offload off on its peer
// (ethtool -K PEER tx off): XDP cannot see that a checksum is unfinished.
//
// Certificates for `crypto pki trustpoint NAME` live in PKI-DIR/NAME/:
// ca.pem (the CAs that verify peers), cert.pem and key.pem (ours), crl.pem
// (checked for changes every minute and on reload).
//
// SIGHUP (or `esphubctl reload`) re-reads the configuration and applies the
// difference; a configuration with errors is refused and the running one
// kept. The file is read until two reads 100 ms apart agree on its size,
// modification time and SHA-256, so that a file caught half-written is not
// applied; still, write a new configuration to a temporary file and rename
// it into place (mv), which is atomic. `esphubctl reload` prints the
// applied file's line count and SHA-256 (compare with sha256sum). SIGTERM and SIGINT delete every IKE SA (peers are told) and exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usageText = `esphubd runs an esphub FlexVPN hub or spoke.

Usage:
  esphubd -config FILE [flags]

The configuration is IOS syntax (see examples/ and 'esphubctl config check').
Operators inspect and control the daemon with esphubctl, e.g.
  esphubctl show crypto session
  esphubctl reload

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// options are esphubd's command-line settings.
type options struct {
	config    string
	api       string
	backend   string
	metrics   string
	logLevel  string
	logFormat string
	tun       string
	tunMTU    int
	xdpQueues int
	xdpCPUs   string
	pkiDir    string
	espKeyLog string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("esphubd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.config, "config", "", "IOS-style configuration `file` (required)")
	fs.StringVar(&o.api, "api", "/run/esphub/esphubd.sock", "unix `socket` esphubctl talks to")
	fs.StringVar(&o.backend, "backend", "auto", "dataplane backend: auto (AF_XDP where the kernel and interfaces allow it, else portable), afxdp or portable")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on `addr` (e.g. 127.0.0.1:9410); off when empty")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.tun, "tun", "esphub0", "name of the overlay TUN device (portable backend)")
	fs.IntVar(&o.tunMTU, "tun-mtu", 1400, "MTU of the overlay TUN device")
	fs.IntVar(&o.xdpQueues, "xdp-queues", 0, "receive queues (and workers) the AF_XDP backend serves; 0: all of the interfaces', at most one per CPU")
	fs.StringVar(&o.xdpCPUs, "xdp-cpus", "", "`CPUs` the AF_XDP workers are pinned to, e.g. 1,3-5 (worker i on the i-th, round robin); all allowed CPUs when empty")
	fs.StringVar(&o.pkiDir, "pki-dir", "/etc/esphub/pki", "`directory` with one subdirectory per crypto pki trustpoint (ca.pem, cert.pem, key.pem, crl.pem)")
	fs.StringVar(&o.espKeyLog, "esp-keylog", "", "DEBUGGING ONLY: append every Child SA's ESP keys to `file` in Wireshark's esp_sa format")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.config == "" {
		return o, errors.New("-config is required")
	}
	switch o.backend {
	case "auto", "portable", "afxdp":
	case "af_xdp":
		o.backend = "afxdp"
	default:
		return o, fmt.Errorf("-backend %q: want auto, portable or afxdp", o.backend)
	}
	if _, err := parseCPUs(o.xdpCPUs); err != nil {
		return o, err
	}
	return o, nil
}

// parseCPUs parses -xdp-cpus: a comma-separated list of CPU numbers and
// ranges ("1,3-5").
func parseCPUs(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(f), "-")
		var a, b int
		if _, err := fmt.Sscanf(lo, "%d", &a); err != nil || a < 0 {
			return nil, fmt.Errorf("-xdp-cpus %q: bad CPU %q", s, lo)
		}
		b = a
		if isRange {
			if _, err := fmt.Sscanf(hi, "%d", &b); err != nil || b < a {
				return nil, fmt.Errorf("-xdp-cpus %q: bad range %q", s, f)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

func run(args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "esphubd: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := serve(ctx, o, hup, stderr); err != nil {
		fmt.Fprintf(stderr, "esphubd: %v\n", err)
		return 1
	}
	return 0
}
