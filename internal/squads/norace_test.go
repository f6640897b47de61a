//go:build !race

package squads_test

const raceEnabled = false
