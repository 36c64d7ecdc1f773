package wire

import (
	"strconv"
	"strings"
	"testing"
)

func TestAppendDebug(t *testing.T) {
	msgs, _ := readCapture(t, captureDir, "gcm")
	m, err := Decode(msgs[0].raw)
	if err != nil {
		t.Fatal(err)
	}
	out := string(AppendDebug(nil, m))
	t.Log("\n" + out)
	for _, want := range []string{
		"Next payload: SA, version: 2.0\n",
		"Exchange type: IKE_SA_INIT, flags: INITIATOR Message id: 0, length: " + strconv.Itoa(len(msgs[0].raw)) + "\n",
		"Payload contents:\n",
		"NOTIFY(IKEV2_FRAGMENTATION_SUPPORTED) Next payload: ",
		"  Security protocol id: Unknown - 0, spi size: 0, type: IKEV2_FRAGMENTATION_SUPPORTED\n",
		"  vendor: FLEXVPN-SUPPORTED\n",
		"id: AES_GCM_16, key length: 256",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("debug output lacks %q", want)
		}
	}
	if strings.Count(out, " Next payload: ") != len(m.Payloads) {
		t.Errorf("want one line per payload")
	}
	// Identities from the wire are printed without control characters.
	id := &Message{Payloads: []Payload{&ID{IDType: IDFQDN, Data: []byte("evil\nline")}}}
	if strings.Contains(string(AppendDebug(nil, id)), "evil\nline") {
		t.Error("control character reached the debug output")
	}
}
