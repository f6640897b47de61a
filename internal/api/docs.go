package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strings"
)

// renderDocs turns the OpenAPI document into one static HTML page: every
// operation with its scope, parameters, body and responses (with examples
// built from the schemas), then every schema. It loads nothing from anywhere,
// so it works offline and under a strict Content-Security-Policy.
func renderDocs(spec []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, err
	}
	schemas := obj(obj(doc["components"])["schemas"])
	d := docsPage{Title: str(obj(doc["info"])["title"]), Version: str(obj(doc["info"])["version"]),
		Description: str(obj(doc["info"])["description"])}
	paths := obj(doc["paths"])
	for _, p := range sortedKeys(paths) {
		item := obj(paths[p])
		for _, m := range []string{"get", "post", "put", "patch", "delete"} {
			o := obj(item[m])
			if o == nil {
				continue
			}
			op := docsOp{Method: strings.ToUpper(m), Path: p, ID: str(o["operationId"]), Summary: str(o["summary"]),
				Description: str(o["description"])}
			for _, t := range list(o["tags"]) {
				op.Tags = append(op.Tags, str(t))
			}
			for _, sec := range list(o["security"]) {
				for _, scopes := range obj(sec) {
					for _, sc := range list(scopes) {
						op.Scope = str(sc)
					}
				}
			}
			for _, prm := range list(o["parameters"]) {
				pm := obj(prm)
				sch := obj(pm["schema"])
				op.Params = append(op.Params, docsParam{Name: str(pm["name"]), In: str(pm["in"]), Required: pm["required"] == true,
					Type: typeOf(sch, schemas), Description: str(pm["description"]), Example: exampleText(example(sch, schemas, 0), false)})
			}
			if rb := obj(o["requestBody"]); rb != nil {
				for ct, media := range obj(rb["content"]) {
					sch := obj(obj(media)["schema"])
					op.Body = &docsBody{ContentType: ct, Schema: typeOf(sch, schemas), Example: exampleText(example(sch, schemas, 0), true)}
				}
			}
			resps := obj(o["responses"])
			for _, code := range sortedKeys(resps) {
				r := obj(resps[code])
				dr := docsResp{Status: code, Description: str(r["description"])}
				for ct, media := range obj(r["content"]) {
					sch := obj(obj(media)["schema"])
					dr.ContentType, dr.Schema = ct, typeOf(sch, schemas)
					if strings.HasPrefix(code, "2") {
						dr.Example = exampleText(example(sch, schemas, 0), true)
					}
				}
				op.Responses = append(op.Responses, dr)
			}
			d.Ops = append(d.Ops, op)
		}
	}
	for _, name := range sortedKeys(schemas) {
		sch := obj(schemas[name])
		ds := docsSchema{Name: name, Description: str(sch["description"])}
		required := map[string]bool{}
		for _, r := range list(sch["required"]) {
			required[str(r)] = true
		}
		props := obj(sch["properties"])
		for _, pn := range sortedKeys(props) {
			ps := obj(props[pn])
			ds.Props = append(ds.Props, docsParam{Name: pn, Type: typeOf(ps, schemas), Required: required[pn],
				Description: str(ps["description"]) + constraints(ps), Example: exampleText(first(ps["examples"]), false)})
		}
		d.Schemas = append(d.Schemas, ds)
	}
	var buf bytes.Buffer
	if err := docsTemplate.Execute(&buf, d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type docsPage struct {
	Title, Version, Description string
	Ops                         []docsOp
	Schemas                     []docsSchema
}

type docsOp struct {
	Method, Path, ID, Summary, Description, Scope string
	Tags                                          []string
	Params                                        []docsParam
	Body                                          *docsBody
	Responses                                     []docsResp
}

type docsParam struct {
	Name, In, Type, Description, Example string
	Required                             bool
}

type docsBody struct{ ContentType, Schema, Example string }

type docsResp struct{ Status, Description, ContentType, Schema, Example string }

type docsSchema struct {
	Name, Description string
	Props             []docsParam
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }
func str(v any) string         { s, _ := v.(string); return s }

func first(v any) any {
	if l := list(v); len(l) > 0 {
		return l[0]
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func refName(sch map[string]any) string {
	return strings.TrimPrefix(str(sch["$ref"]), "#/components/schemas/")
}

// typeOf is a short human type: "Transfer", "string", "array of Entry".
func typeOf(sch map[string]any, schemas map[string]any) string {
	if r := refName(sch); r != "" {
		return r
	}
	var types []string
	switch t := sch["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			if s := str(x); s != "null" {
				types = append(types, s)
			}
		}
	}
	t := strings.Join(types, " | ")
	if t == "array" {
		return "array of " + typeOf(obj(sch["items"]), schemas)
	}
	if f := str(sch["format"]); f != "" {
		t += " (" + f + ")"
	}
	if t == "" {
		return "any"
	}
	return t
}

func constraints(sch map[string]any) string {
	var c []string
	for _, k := range []string{"minimum", "maximum", "minLength", "maxLength", "maxItems", "pattern", "default", "enum"} {
		if v, ok := sch[k]; ok {
			c = append(c, fmt.Sprintf("%s: %v", k, v))
		}
	}
	if len(c) == 0 {
		return ""
	}
	return " [" + strings.Join(c, ", ") + "]"
}

// example builds a sample value from the schema's examples and shape.
func example(sch map[string]any, schemas map[string]any, depth int) any {
	if sch == nil || depth > 6 {
		return nil
	}
	if r := refName(sch); r != "" {
		return example(obj(schemas[r]), schemas, depth+1)
	}
	if e := first(sch["examples"]); e != nil {
		return e
	}
	if d, ok := sch["default"]; ok {
		return d
	}
	switch typeOf(sch, schemas) {
	case "object":
		out := map[string]any{}
		props := obj(sch["properties"])
		for k, p := range props {
			if k == "$schema" {
				continue
			}
			out[k] = example(obj(p), schemas, depth+1)
		}
		return out
	case "string (date-time)":
		return "2026-05-01T12:00:00Z"
	case "string":
		return "string"
	case "integer", "integer (int64)", "integer (int32)", "number", "number (double)":
		return 0
	case "boolean":
		return true
	}
	if strings.HasPrefix(typeOf(sch, schemas), "array") {
		return []any{example(obj(sch["items"]), schemas, depth+1)}
	}
	return nil
}

func exampleText(v any, indent bool) string {
	if v == nil {
		return ""
	}
	var b []byte
	if indent {
		b, _ = json.MarshalIndent(v, "", "  ")
	} else {
		b, _ = json.Marshal(v)
	}
	return string(b)
}

var docsTemplate = template.Must(template.New("docs").Funcs(template.FuncMap{
	"lower": strings.ToLower,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.Version}}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
main{max-width:980px;margin:0 auto;padding:1.5rem}
nav{background:#1d2330;color:#fff;padding:.8rem 1.5rem} nav a{color:#9cf}
h1{margin:0;font-size:1.3rem} h2{margin-top:2.5rem;border-bottom:1px solid #ddd}
.op{background:#fff;border:1px solid #dde;border-radius:6px;margin:1rem 0;padding:.8rem 1rem}
.m{display:inline-block;min-width:4.2em;font-weight:700;font-family:monospace}
.get{color:#0a7} .post{color:#07c} .put{color:#a60} .patch{color:#a60} .delete{color:#c22}
code,pre{font-family:ui-monospace,monospace;font-size:13px} pre{background:#f3f4f7;padding:.6rem;overflow:auto;border-radius:4px}
table{border-collapse:collapse;width:100%;margin:.4rem 0} td,th{border:1px solid #e3e3ea;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f4f7} .scope{background:#eef;border-radius:3px;padding:0 .4em;font-size:12px} .desc{white-space:pre-wrap}
</style></head><body>
<nav><h1>{{.Title}} <small>{{.Version}}</small></h1> The machine-readable description: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1)</nav>
<main>
<p class="desc">{{.Description}}</p>
<h2>Operations</h2>
<ul>{{range .Ops}}<li><a href="#{{.ID}}"><span class="m {{lower .Method}}">{{.Method}}</span> <code>{{.Path}}</code></a> {{.Summary}}</li>{{end}}</ul>
{{range .Ops}}<section class="op" id="{{.ID}}">
<h3><span class="m {{lower .Method}}">{{.Method}}</span> <code>{{.Path}}</code> <span class="scope">scope: {{.Scope}}</span></h3>
<p><b>{{.Summary}}</b></p><p class="desc">{{.Description}}</p>
{{if .Params}}<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th>description</th><th>example</th></tr>
{{range .Params}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}</td><td>{{.Type}}</td><td>{{if .Required}}yes{{end}}</td><td>{{.Description}}</td><td><code>{{.Example}}</code></td></tr>{{end}}</table>{{end}}
{{with .Body}}<p>Request body <code>{{.ContentType}}</code>: <a href="#schema-{{.Schema}}">{{.Schema}}</a></p><pre>{{.Example}}</pre>{{end}}
<table><tr><th>status</th><th>meaning</th><th>body</th></tr>
{{range .Responses}}<tr><td>{{.Status}}</td><td>{{.Description}}</td><td>{{if .Schema}}<code>{{.ContentType}}</code> <a href="#schema-{{.Schema}}">{{.Schema}}</a>{{end}}{{if .Example}}<pre>{{.Example}}</pre>{{end}}</td></tr>{{end}}</table>
</section>{{end}}
<h2>Schemas</h2>
{{range .Schemas}}<section class="op" id="schema-{{.Name}}"><h3>{{.Name}}</h3>{{if .Description}}<p>{{.Description}}</p>{{end}}
<table><tr><th>field</th><th>type</th><th>required</th><th>description</th><th>example</th></tr>
{{range .Props}}<tr><td><code>{{.Name}}</code></td><td>{{.Type}}</td><td>{{if .Required}}yes{{end}}</td><td>{{.Description}}</td><td><code>{{.Example}}</code></td></tr>{{end}}</table></section>{{end}}
</main></body></html>
`))
