package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/discordapi"
	"github.com/smarterdev/smarterdev/internal/logging"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames lists every page template; parsePages fails when one is missing.
var pageNames = []string{
	"signin", "overview", "error", "activity", "config", "squads", "squad_edit", "squad_delete", "apikey_confirm", "deadletters",
	"members", "member", "audit", "apikeys", "automod", "automod_rule", "automod_delete", "cases", "case", "status", "sessions",
}

type pages struct{ t map[string]*template.Template }

func parsePages() (*pages, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range pageNames {
		if _, err := fs.Stat(templateFS, "templates/"+name+".html"); err != nil {
			return nil, fmt.Errorf("web: page template %q is missing", name)
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse page %q: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("web: page %q defines no \"content\"", name)
		}
		p.t[name] = t
	}
	return p, nil
}

// page is what every template gets.
type page struct {
	Title     string
	Nav       string // the active guild tab
	Viewer    *viewer
	Guild     *guildCtx
	Flash     string
	RequestID string
	Data      any
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t := h.pages.t[name]
	if t == nil {
		panic("web: unknown page " + name)
	}
	if p.Guild != nil && p.Viewer == nil {
		p.Viewer = p.Guild.viewer
	}
	if p.Flash == "" && status < 300 {
		p.Flash = h.takeFlash(w, r)
	}
	p.RequestID = logging.RequestID(r.Context())
	if p.RequestID == "" {
		p.RequestID = r.Header.Get(logging.HeaderRequestID)
	}
	tmpl := "layout"
	// htmx asking for a fragment (not a boosted navigation) gets the content only.
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Boosted") == "" {
		if t.Lookup("fragment") != nil {
			tmpl = "fragment"
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, p); err != nil {
		h.log.ErrorContext(r.Context(), "render failed", "page", name, "err", err)
		if name != "error" {
			h.errorPage(w, r, http.StatusInternalServerError, "")
		}
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Status  int
	Heading string
	Message string
}

// errorPage answers with an HTML error page carrying the request id.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d := errorData{Status: status, Heading: http.StatusText(status), Message: msg}
	switch status {
	case http.StatusNotFound:
		d.Heading = "Page not found"
		if d.Message == "" {
			d.Message = "There is nothing at this address."
		}
	case http.StatusForbidden:
		d.Heading = "Not allowed"
	case http.StatusInternalServerError:
		d.Heading = "Something went wrong"
		if d.Message == "" {
			d.Message = "This is a bug on our side; it has been logged. Quote the request id below when you report it."
		}
	}
	v, _ := h.session(r)
	h.render(w, r, status, "error", &page{Title: d.Heading, Viewer: v, Data: d})
}

// fail logs an unexpected error and shows the 500 page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "dashboard request failed", "path", r.URL.Path, "err", err)
	h.errorPage(w, r, http.StatusInternalServerError, "")
}

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fsrv := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

var funcs = template.FuncMap{
	"num": formatNum,
	"signed": func(n int64) string {
		if n > 0 {
			return "+" + formatNum(n)
		}
		return formatNum(n)
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"id":  func(n int64) string { return strconv.FormatInt(n, 10) },
	"add": func(a, b int) int { return a + b },
	// count writes "1 day" and "3 days", the plural being the singular and "s".
	"count": func(n any, noun string) string {
		v := fmt.Sprint(n)
		if v == "1" {
			return v + " " + noun
		}
		return v + " " + noun + "s"
	},
	"initial": func(s string) string {
		for _, r := range s {
			return strings.ToUpper(string(r))
		}
		return "?"
	},
	"kind":        func(k string) string { return lookup(kindNames, k) },
	"ruleKind":    func(k automod.Kind) string { return lookup(ruleKindNames, string(k)) },
	"ruleAction":  func(a automod.Action) string { return lookup(ruleActionNames, string(a)) },
	"ruleKinds":   func() []option { return ruleKinds },
	"ruleActions": func() []option { return ruleActions },
	"field": func(f *form, name, id, label, hint string) fieldData {
		return fieldData{Form: f, Name: name, ID: id, Label: label, Hint: hint}
	},
	"ruleForm": func(f *form, csrf string, opts pickOptions) ruleFormData {
		return ruleFormData{Form: f, CSRF: csrf, Opts: opts}
	},
	"picker": picker,
	"dur": func(d time.Duration) string {
		if d <= 0 {
			return "0s"
		}
		return d.String()
	},
	"pct":         func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) + "%" },
	"ms":          func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" },
	"caseActions": func() []string { return caseActions },
	"caseStates":  func() []string { return caseStates },
	"squadForm": func(f *form, roles []discordapi.Role, csrf string) squadFormData {
		return squadFormData{Form: f, Roles: roles, CSRF: csrf}
	},
}

// fieldData is one labelled input with its error and hint.
type fieldData struct {
	Form                  *form
	Name, ID, Label, Hint string
}

type ruleFormData struct {
	Form *form
	CSRF string
	Opts pickOptions
}

type squadFormData struct {
	Form  *form
	Roles []discordapi.Role
	CSRF  string
}

// ruleKinds and ruleActions are the automod form's words for them, in the
// form's order; the rules table reads the same words.
var (
	ruleKinds = []option{{"username", "Username on join"}, {"message_rate", "Too many messages"},
		{"duplicate", "Repeated message"}, {"channel_spread", "Messages in many channels"}, {"attachment", "File attachments"}}
	ruleActions = []option{{"delete", "Delete the message"}, {"warn", "Warn"}, {"timeout", "Timeout"}, {"kick", "Kick"}, {"ban", "Ban"}}

	ruleKindNames   = optionLabels(ruleKinds)
	ruleActionNames = optionLabels(ruleActions)
)

func optionLabels(opts []option) map[string]string {
	m := make(map[string]string, len(opts))
	for _, o := range opts {
		m[o.Value] = o.Label
	}
	return m
}

func lookup(names map[string]string, k string) string {
	if n, ok := names[k]; ok {
		return n
	}
	return k
}

var kindNames = map[string]string{
	"open": "Account opened", "daily": "Daily reward", "transfer_out": "Sent", "transfer_in": "Received",
	"grant": "Granted by an admin", "deduct": "Deducted by an admin", "squad_switch": "Squad switch",
}

// formatNum writes 1234567 as 1,234,567.
func formatNum(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
