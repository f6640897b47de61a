package app

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// smarterdev emulator serves the demo guild until its context ends, prints
// how to use it, and exits 0.
func TestEmulatorCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut buffer
	code := make(chan int, 1)
	go func() {
		code <- Run(ctx, []string{"emulator", "--addr", addr}, envOf(nil), strings.NewReader(""), &out, &errOut)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Stop with Ctrl-C") {
		if time.Now().After(deadline) {
			t.Fatalf("no banner: %s / %s", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	banner := out.String()
	for _, want := range []string{"SMARTERDEV_DISCORD_TOKEN=", "SMARTERDEV_DISCORD_API_URL='http://" + addr + "/api/v10'",
		"application id: ", "Control API: http://" + addr + "/_emulator/", "curl -s http://" + addr + "/_emulator/guilds"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^  curl `).FindAllString(banner, -1)); n != 3 {
		t.Errorf("%d curl examples, want 3", n)
	}

	resp, err := http.Get("http://" + addr + "/_emulator/guilds")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var guilds []map[string]any
	if err := json.Unmarshal(body, &guilds); err != nil || resp.StatusCode != 200 || len(guilds) != 1 || guilds[0]["name"] != "Smarter Dev Demo" {
		t.Fatalf("GET /_emulator/guilds: %d %s (%v)", resp.StatusCode, body, err)
	}

	cancel()
	select {
	case c := <-code:
		if c != ExitOK {
			t.Fatalf("exit %d: %s", c, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulator did not stop")
	}
	if _, err := http.Get("http://" + addr + "/_emulator/guilds"); err == nil {
		t.Error("emulator still serving after exit")
	}
}
