package swan_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
	"github.com/esphub/esphub/internal/swan"
)

// TestStrongSwanRekeyAndDelete drives the harness through a Child SA rekey
// with PFS (started by the initiator), an IKE SA rekey (started by the
// responder) and a Delete, checking strongSwan's view and the keys after
// each step.
func TestStrongSwanRekeyAndDelete(t *testing.T) {
	p := swan.NewPair(t)
	cfgA, cfgB := pairConfigs(p, "aes256gcm16-prfsha256-ecp256", "aes256gcm16-ecp256")
	a := swan.StartT(t, p.A, cfgA)
	b := swan.StartT(t, p.B, cfgB)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := a.Initiate(ctx, "a-b", "net"); err != nil {
		t.Fatal(err)
	}
	first, err := a.WaitSA(ctx, func(sa swan.IKESA) bool { _, ok := sa.Child("net", "INSTALLED"); return ok })
	if err != nil {
		t.Fatal(err)
	}
	oldChild, _ := first.Child("net", "INSTALLED")

	// Child SA rekey with PFS, started by A.
	if err := a.Rekey(ctx, swan.KindChild, "net"); err != nil {
		t.Fatal(err)
	}
	rekeyed, err := a.WaitSA(ctx, func(sa swan.IKESA) bool {
		c, ok := sa.Child("net", "INSTALLED")
		return ok && c.SPIIn != oldChild.SPIIn
	})
	if err != nil {
		t.Fatal(err)
	}
	newChild, _ := rekeyed.Child("net", "INSTALLED")
	if newChild.DHGroup != "ECP_256" {
		t.Errorf("rekeyed CHILD_SA DH group %q, want ECP_256 (PFS)", newChild.DHGroup)
	}
	ka, _ := a.Keys()
	kb, _ := b.Keys()
	ca, okA := ka.ChildBySPI(newChild.SPIIn)
	cb, okB := kb.ChildBySPI(newChild.SPIIn)
	if !okA || !okB {
		t.Fatalf("no keys for rekeyed SPI %08x (A %d, B %d child key sets)", newChild.SPIIn, len(ka.Child), len(kb.Child))
	}
	if !ca.Initiator || cb.Initiator || !bytes.Equal(ca.EncrI, cb.EncrI) || !bytes.Equal(ca.EncrR, cb.EncrR) {
		t.Errorf("rekeyed child keys or roles differ between peers")
	}
	// KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr): the seed carries the DH
	// secret in front of the nonces.
	if len(ca.Seed) != 32+64 {
		t.Fatalf("PFS seed is %d bytes, want 96", len(ca.Seed))
	}
	prf, _ := suite.NewPRF(wire.PRFHMACSHA2256)
	ck, err := suite.DeriveChildKeys(prf, ka.IKE[0].SKd, ca.Seed[:32], ca.Seed[32:64], ca.Seed[64:],
		suite.Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ck.EncrI, ca.EncrI) || !bytes.Equal(ck.EncrR, ca.EncrR) {
		t.Errorf("PFS child keys: ours %x/%x, strongSwan %x/%x", ck.EncrI, ck.EncrR, ca.EncrI, ca.EncrR)
	}
	if out, err := swan.Exec(p.A, "ping", "-c", "2", "-i", "0.2", "-W", "5", "-I", p.InnerA.String(), p.InnerB.String()); err != nil {
		t.Fatalf("ping after child rekey: %v\n%s", err, out)
	}

	// IKE SA rekey, started by B (the original responder).
	stopCap := capture(t, p.A, "udp port 4500")
	if err := b.Rekey(ctx, swan.KindIKE, "a-b"); err != nil {
		t.Fatal(err)
	}
	newIKE, err := a.WaitSA(ctx, func(sa swan.IKESA) bool { return sa.State == "ESTABLISHED" && sa.SPIi != first.SPIi })
	if err != nil {
		t.Fatal(err)
	}
	if newIKE.Initiator {
		t.Errorf("after B's rekey A should be responder of the new IKE SA")
	}
	if _, ok := newIKE.Child("net", "INSTALLED"); !ok {
		t.Errorf("CHILD_SA did not move to the rekeyed IKE SA: %+v", newIKE)
	}
	ka, _ = a.Keys()
	kb, _ = b.Keys()
	if len(ka.IKE) != 2 || len(kb.IKE) != 2 {
		t.Fatalf("%d/%d IKE key sets after rekey, want 2", len(ka.IKE), len(kb.IKE))
	}
	if ka.IKE[1].Initiator || !kb.IKE[1].Initiator || !bytes.Equal(ka.IKE[1].SKd, kb.IKE[1].SKd) || bytes.Equal(ka.IKE[1].SKd, ka.IKE[0].SKd) {
		t.Errorf("rekeyed IKE keys: roles %v/%v, or SK_d not shared / not new", ka.IKE[1].Initiator, kb.IKE[1].Initiator)
	}

	// Cross-check DeriveRekeyedIKEKeys: decrypt the CREATE_CHILD_SA
	// exchange with the old SA's keys for the nonces and new SPIs.
	ikeP := suite.Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2256, DH: wire.DHECP256}
	old := ka.IKE[0]
	var ni, nr []byte
	var spii, spir uint64
	for _, raw := range ikeOver4500(t, stopCap()) {
		m, err := wire.Decode(raw)
		if err != nil || m.Header.Exchange != wire.ExchangeCreateChildSA || m.Header.SPIi != first.SPIi {
			continue
		}
		enc, ok := m.Payloads[len(m.Payloads)-1].(*wire.Encrypted)
		if !ok {
			continue
		}
		// B (original responder) sends the request with SK_er, A answers with SK_ei.
		key := old.SKei
		if !m.Header.IsResponse() {
			key = old.SKer
		}
		c, err := suite.NewSKCipher(ikeP, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := c.Open(nil, enc.AAD, enc.Body)
		if err != nil {
			t.Fatalf("decrypt CREATE_CHILD_SA: %v", err)
		}
		inner, err := wire.DecodePayloads(enc.NextPayload, pt)
		if err != nil {
			t.Fatalf("decode CREATE_CHILD_SA: %v", err)
		}
		var nonce []byte
		var spi uint64
		for _, pl := range inner {
			switch v := pl.(type) {
			case *wire.Nonce:
				nonce = v.Data
			case *wire.SA:
				if len(v.Proposals) > 0 && v.Proposals[0].Protocol == wire.ProtocolIKE {
					spi = v.Proposals[0].IKESPI()
				}
			}
		}
		if spi == 0 {
			continue // a Child SA exchange
		}
		if m.Header.IsResponse() {
			nr, spir = nonce, spi
		} else {
			ni, spii = nonce, spi
		}
	}
	if ni == nil || nr == nil {
		t.Fatal("IKE rekey exchange not captured")
	}
	if spii != newIKE.SPIi || spir != newIKE.SPIr {
		t.Errorf("new SPIs from the exchange %016x/%016x, strongSwan lists %016x/%016x", spii, spir, newIKE.SPIi, newIKE.SPIr)
	}
	rk, err := suite.DeriveRekeyedIKEKeys(ikeP, wire.PRFHMACSHA2256, old.SKd, kb.IKE[1].SharedSecret, ni, nr, spii, spir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rk.SKd, kb.IKE[1].SKd) || !bytes.Equal(rk.SKei, kb.IKE[1].SKei) || !bytes.Equal(rk.SKpr, kb.IKE[1].SKpr) {
		t.Errorf("rekeyed IKE keys: ours SK_d %x, strongSwan %x", rk.SKd, kb.IKE[1].SKd)
	}

	// Delete from B: A must drop the IKE SA too.
	if err := b.Terminate(ctx, "a-b"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		sas, err := a.ListSAs(ctx)
		if err == nil && len(sas) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A still has SAs after B's delete: %+v, %v", sas, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
