//go:build race

package web_test

// raceEnabled: disgo v0.19.6's gateway has data races of its own
// (docs/emulator.md), so under -race the browser test runs the web role
// without the gateway and checks squads through the REST API instead.
const raceEnabled = true
