package swan_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/swan"
)

// A typical interop test: a strongSwan responder in one namespace of a
// Pair, the code under test (here a second strongSwan) in the other.
func Example() {
	var t *testing.T // the test's *testing.T
	p := swan.NewPair(t)
	responder := swan.StartT(t, p.B, swan.Config{
		Name: "responder",
		Conns: []swan.Conn{{
			Name: "hub", LocalAddrs: []string{p.AddrB.String()}, RemoteAddrs: []string{"%any"},
			Proposals: []string{"aes256gcm16-prfsha256-ecp256"}, LocalID: "hub.test", RemoteID: "%any",
			Children: []swan.Child{{Name: "net", LocalTS: []string{"198.19.2.0/24"}, RemoteTS: []string{"198.19.1.0/24"}}},
		}},
		Secrets: []swan.Secret{{Name: "spokes", IDs: []string{"hub.test", "spoke1.test"}, PSK: "a long test psk"}},
		Charon:  map[string]string{"block_threshold": "1000", "init_limit_half_open": "1000"},
	})
	// ... start the initiator under test in p.A ...
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sa, err := responder.WaitSA(ctx, func(sa swan.IKESA) bool { _, ok := sa.Child("net", "INSTALLED"); return ok })
	if err != nil {
		t.Fatal(err)
	}
	child, _ := sa.Child("net", "INSTALLED")
	keys, _ := responder.Keys()
	k, _ := keys.ChildBySPI(child.SPIIn)
	encr, _ := k.Inbound() // compare with the keys the code under test derived
	fmt.Println(len(encr))
}
