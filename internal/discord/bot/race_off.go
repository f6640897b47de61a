//go:build !race

package bot

// raceDetector: the binary is built with -race (race_on.go).
const raceDetector = false
