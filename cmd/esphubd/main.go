// Command esphubd is the esphub appliance: it reads an IOS-style FlexVPN
// configuration, runs IKEv2 on UDP 500/4500, carries ESP through a dataplane
// backend, and answers esphubctl on a unix socket.
//
//	esphubd -config /etc/esphub/esphub.cfg [-api /run/esphub/esphubd.sock]
//	        [-backend auto|portable|afxdp] [-metrics 127.0.0.1:9410]
//	        [-log-level info] [-log-format text|json] [-tun esphub0]
//
// SIGHUP (or `esphubctl reload`) re-reads the configuration and applies the
// difference; a configuration with errors is refused and the running one
// kept. SIGTERM and SIGINT delete every IKE SA (peers are told) and exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	fs.StringVar(&o.backend, "backend", "auto", "dataplane backend: auto, portable or afxdp (auto picks portable until AF_XDP lands)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on `addr` (e.g. 127.0.0.1:9410); off when empty")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.tun, "tun", "esphub0", "name of the overlay TUN device (portable backend)")
	fs.IntVar(&o.tunMTU, "tun-mtu", 1400, "MTU of the overlay TUN device")
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
	default:
		return o, fmt.Errorf("-backend %q: want auto, portable or afxdp", o.backend)
	}
	return o, nil
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
