//go:build race

package squads_test

// raceEnabled: the race detector slows the pure-Go SQLite about fifteenfold,
// so the bank test runs a shorter SQLite round under -race; `make test` runs
// it again at full length without -race.
const raceEnabled = true
