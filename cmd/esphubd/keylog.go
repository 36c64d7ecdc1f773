package main

import (
	"fmt"
	"net/netip"
	"os"
	"sync"

	"github.com/esphub/esphub/control"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
)

// keyLog is a control.Dataplane that also appends each SA's keys to a file
// as Wireshark esp_sa UAT records (the value after `-o uat:esp_sa:`), the
// way SSLKEYLOGFILE serves TLS, so that lab captures can be decrypted by
// tshark. It is opt-in (-esp-keylog) and for labs only; the file is
// created 0600.
type keyLog struct {
	control.Dataplane
	engine *dataplane.Engine
	mu     sync.Mutex
	f      *os.File
}

func newKeyLog(path string, dp control.Dataplane, e *dataplane.Engine) (*keyLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("esp keylog: %w", err)
	}
	return &keyLog{Dataplane: dp, engine: e, f: f}, nil
}

func (k *keyLog) close() { k.mu.Lock(); k.f.Close(); k.mu.Unlock() }

// AddSA installs the SA and records its keys (AES-GCM only: the suite the
// lab uses; other algorithms are installed without a record).
func (k *keyLog) AddSA(c dataplane.SAConfig) error {
	if err := k.Dataplane.AddSA(c); err != nil {
		return err
	}
	if c.Algorithm != esp.AESGCM16 {
		return nil
	}
	fam := "IPv4"
	if l, _, _, ok := k.engine.TunnelEndpoints(c.Tunnel); ok && l.Addr().Is6() {
		fam = "IPv6"
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	_, err := fmt.Fprintf(k.f, "\"%s\",\"*\",\"*\",\"0x%08x\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x%x\",\"NULL\",\"\"\n", fam, c.SPI, c.EncKey)
	return err
}

// RouteUsed passes the dataplane's per-route use marks through (NHRP reads
// them to keep shortcuts in use alive).
func (k *keyLog) RouteUsed(vrf uint32, p netip.Prefix) (used, ok bool) {
	ru, has := k.Dataplane.(interface {
		RouteUsed(uint32, netip.Prefix) (bool, bool)
	})
	if !has {
		return false, false
	}
	return ru.RouteUsed(vrf, p)
}
