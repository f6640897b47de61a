package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

func post(ctx context.Context, client *http.Client, url string, body any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("send: %w", redactURL(err, url))
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	if res.StatusCode >= 300 {
		return fmt.Errorf("the receiver answered %d", res.StatusCode)
	}
	return nil
}

// redactURL keeps a webhook URL (which is its own secret) out of errors.
func redactURL(err error, url string) error {
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), url, "[webhook]"))
}

func defaultClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// Discord posts to a Discord channel webhook.
type Discord struct {
	URL    string
	Client *http.Client
}

func (d Discord) Name() string { return "discord" }

func (d Discord) Notify(ctx context.Context, alerts []Alert) error {
	type field struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	type embed struct {
		Title  string  `json:"title"`
		Color  int     `json:"color"`
		Fields []field `json:"fields"`
	}
	e := embed{Title: title(alerts), Color: 0x2ecc71}
	for _, a := range alerts {
		if a.Firing {
			e.Color = 0xe74c3c
		}
		state := "resolved"
		if a.Firing {
			state = fmt.Sprintf("firing since %s (%s)", a.Since.UTC().Format(time.RFC3339), a.Severity)
		}
		e.Fields = append(e.Fields, field{Name: a.Name + " — " + state, Value: truncate(a.Summary+runbookLine(a), 1000)})
	}
	return post(ctx, defaultClient(d.Client), d.URL, map[string]any{"username": "Smarter Dev alerts", "embeds": []embed{e}})
}

// Slack posts to a Slack incoming webhook.
type Slack struct {
	URL    string
	Client *http.Client
}

func (s Slack) Name() string { return "slack" }

func (s Slack) Notify(ctx context.Context, alerts []Alert) error {
	var b strings.Builder
	b.WriteString("*" + title(alerts) + "*")
	for _, a := range alerts {
		mark := ":white_check_mark:"
		if a.Firing {
			mark = ":rotating_light:"
		}
		fmt.Fprintf(&b, "\n%s *%s*: %s%s", mark, a.Name, a.Summary, runbookLine(a))
	}
	return post(ctx, defaultClient(s.Client), s.URL, map[string]string{"text": b.String()})
}

// PagerDuty sends Events API v2 events: one trigger or resolve per alert,
// deduplicated by the alert's name so PagerDuty groups repeats into one incident.
type PagerDuty struct {
	RoutingKey string
	URL        string // default https://events.pagerduty.com/v2/enqueue
	Source     string // the host or deployment name
	Client     *http.Client
}

func (p PagerDuty) Name() string { return "pagerduty" }

func (p PagerDuty) Notify(ctx context.Context, alerts []Alert) error {
	url := p.URL
	if url == "" {
		url = "https://events.pagerduty.com/v2/enqueue"
	}
	for _, a := range alerts {
		ev := map[string]any{"routing_key": p.RoutingKey, "dedup_key": "smarterdev/" + a.Name, "event_action": "resolve"}
		if a.Firing {
			ev["event_action"] = "trigger"
			sev := a.Severity
			if sev == "" {
				sev = "critical"
			}
			ev["payload"] = map[string]any{"summary": truncate(a.Name+": "+a.Summary, 1000), "source": p.Source, "severity": sev,
				"timestamp": a.Since.UTC().Format(time.RFC3339), "custom_details": map[string]string{"runbook": a.Runbook}}
		}
		if err := post(ctx, defaultClient(p.Client), url, ev); err != nil {
			return err
		}
	}
	return nil
}

func runbookLine(a Alert) string {
	if a.Runbook == "" {
		return ""
	}
	return " (runbook: " + a.Runbook + ")"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
