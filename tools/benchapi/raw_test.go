package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// The minimal responder is only a floor worth comparing with if it answers
// what the static handler answers, request after request on one connection,
// to a standard client and to the open-loop generator's parser alike.
func TestRawAnswersAsTheStaticHandler(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveRaw(ln)
	base := "http://" + ln.Addr().String()

	for range 3 { // kept alive: the same connection answers again
		res, err := http.Get(base + "/static")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || string(body) != staticBody || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET: %d %q %q (%v), want 200 %q as JSON", res.StatusCode, res.Header.Get("Content-Type"), body, err, staticBody)
		}
	}

	// Two requests written at once are answered in order.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /static HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\r\n"
	if _, err := conn.Write([]byte(req + req)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	for i := range 2 {
		if err := readResponse(br); err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
	}

	st, err := fixedRate(base, "static", "k", 10, 200, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 240 || st.P99 <= 0 || st.P50 > st.P99 {
		t.Fatalf("open loop against the responder: %+v, want 240 sent (a warm-up second and 200 ms at 200/s) and ordered percentiles", st)
	}
}
