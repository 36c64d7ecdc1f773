package config

// Decisions this package takes where the seeds contradict themselves
// (../shared/docs/seed-features.md, Appendix D). Each is implemented next to
// the code it concerns and pinned by a test:
//
//   - D-1 proposal selection: the initiator's preference wins, per type
//     (SelectIKESuite; TestSelectIKESuite "G13 initiator preference").
//   - D-2 overlapping policies: the most specific policy wins, ties go to
//     configuration order, the default policy is the last resort
//     (SelectPolicy; TestSelectPolicy).
//   - D-3 profile match: identity and certificate statements are one type
//     and ORed; more than one matching profile selects none (MatchProfile).
//   - D-5 DPD ranges: 10-3600 / 2-60 are enforced (ctx.dpd); the examples
//     outside them are snippets.
//   - D-6 default proposal groups: 5 and 2, as [G]'s show output prints.
//   - D-7 default transform set mode: tunnel, as the show output prints.
//   - D-8 cookie challenge: off unless configured; N is the half-open
//     threshold, 0-1000.
//   - D-9 CAC: no limit unless configured; `max-in-negotiation sa` accepted.
//   - D-10 `ip nhrp shortcut N` and `... virtual-template N` both accepted.
//   - D-14 alternative spellings are accepted and rendered canonically:
//     match vrf / match fvrp, match local address, integrity sha-256,
//     aes-gmc-*, tunnel protection ipsec-profile, esp-aes-cbc-128,
//     authentication pre-shared, keyring NAME, subnet-acl, config-mode set.
//   - D-15 misprints are not guessed at: `Virtual-Templatel` stays an
//     error; the acceptance test corrects them in an explicit table.
//
// Other choices:
//
//   - `!` at the left margin closes every mode. Because the seeds print a
//     running-config's indented ` !` flush left, an indented line that is
//     no global command reopens the mode the `!` closed; a line that no
//     mode understands stays in an open unimplemented block (`router bgp`).
//   - A built-in default that the configuration opens is modified, not
//     replaced: its other values stay, and the first line of each list
//     (proposal transforms, policy proposals) replaces the built-in list.
//   - References the seeds' complete examples leave dangling (trustpoints,
//     pools, access lists, a second transform set) are warnings; the ones
//     that make an object unusable (keyring, transform set, IPsec and IKEv2
//     profile, VRF, unnumbered source, NHRP shortcut template) are errors.
//   - Lower-case names that are not IOS interface types are Linux host
//     interfaces (eth0, ens5) and are kept as written.
