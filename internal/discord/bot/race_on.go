//go:build race

package bot

// raceDetector: the binary is built with -race. The bot then orders disgo's
// heartbeat ACK for the race detector rather than for disgo (observe.go:
// waitAcks).
const raceDetector = true
