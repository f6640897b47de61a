package app

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at build time, e.g.
//
//	go build -ldflags "-X github.com/smarterdev/smarterdev/internal/app.version=1.2.0
//	  -X github.com/smarterdev/smarterdev/internal/app.commit=$(git rev-parse HEAD)
//	  -X github.com/smarterdev/smarterdev/internal/app.buildTime=$(date -u +%FT%TZ)"
//
// They are the only package-level variables, and the linker writes them.
var (
	version   = "dev"
	commit    = "unknown"
	buildTime = "unknown"
)

// BuildInfo describes this binary.
type BuildInfo struct {
	Version, Commit, BuildTime, GoVersion, Platform string
}

// Build returns the version stamped by -ldflags, falling back to what the Go
// toolchain recorded from version control for a plain `go build`.
func Build() BuildInfo {
	b := BuildInfo{
		Version: version, Commit: commit, BuildTime: buildTime,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && b.Commit == "unknown":
				b.Commit = s.Value
			case s.Key == "vcs.time" && b.BuildTime == "unknown":
				b.BuildTime = s.Value + " (commit time)"
			}
		}
	}
	return b
}

func versionLine() string {
	b := Build()
	return fmt.Sprintf("smarterdev %s (commit %s, built %s, %s %s)", b.Version, b.Commit, b.BuildTime, b.GoVersion, b.Platform)
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build time and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := Build()
			fmt.Fprintf(cmd.OutOrStdout(), "smarterdev %s\ncommit:  %s\nbuilt:   %s\ngo:      %s %s\n",
				b.Version, b.Commit, b.BuildTime, b.GoVersion, b.Platform)
			return nil
		},
	}
}
