// Command esphubctl is the operator's tool for esphub: offline
// configuration checks today, and the show/clear/reload commands that talk
// to esphubd over its unix socket as they are added.
//
//	esphubctl config check FILE...
//	esphubctl config show FILE [--defaults] [-o text|json] [crypto ikev2 proposal|policy|profile|keyring|authorization policy [NAME]]
//	esphubctl config show FILE crypto ipsec profile|transform-set [NAME]
//	esphubctl config diff OLD NEW
//	esphubctl pki ca create --name NAME --out DIR [--ecdsa p256|p384|p521 | --rsa 2048|3072|4096] [--parent CADIR]
//	esphubctl pki cert issue --ca DIR --cn NAME [--dns ...] [--ip ...] [--email ...] --out DIR [--days N]
//	esphubctl pki crl --ca DIR --revoke CERTFILE... --out FILE
//	esphubctl pki show FILE...
//	esphubctl pki verify --ca CAFILE [--crl FILE] [--fqdn NAME|--ip ADDR|--email ADDR] CERTFILE [CHAINFILE...]
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
