package app

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/config"
)

// TestBinarySIGTERM builds the real binary and checks what an orchestrator
// sees: it serves, and SIGTERM ends it with exit code 0.
func TestBinarySIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "smarterdev")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X github.com/smarterdev/smarterdev/internal/app.version=9.9.9-test",
		"github.com/smarterdev/smarterdev/cmd/smarterdev")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "smarterdev 9.9.9-test\n") {
		t.Fatalf("version of the built binary: %q %v", out, err)
	}

	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		config.EnvDatabaseURL+"=sqlite:"+filepath.Join(t.TempDir(), "smarterdev.db"),
		config.EnvHTTPAddr+"=127.0.0.1:0",
		config.EnvLogFormat+"=json",
		config.EnvRedisURL+"=",
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addr := make(chan string, 1)
	var logs []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs = append(logs, sc.Text())
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		exited <- cmd.Wait()
	}()
	var a string
	select {
	case a = <-addr:
	case err := <-exited:
		t.Fatalf("binary exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("binary did not listen")
	}
	checkReady(t, a)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%v", err, logs)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("binary did not stop after SIGTERM")
	}
	checkClosed(t, a)
}
