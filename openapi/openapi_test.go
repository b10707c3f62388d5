package openapi

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func load(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(Spec, &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	return doc
}

func asMap(t *testing.T, v any, where string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: want a mapping, got %T", where, v)
	}
	return m
}

// operations calls fn for every operation of the document.
func operations(t *testing.T, doc map[string]any, fn func(path, method string, pathItem, op map[string]any)) {
	t.Helper()
	for p, item := range asMap(t, doc["paths"], "paths") {
		pi := asMap(t, item, p)
		for k, v := range pi {
			if slices.Contains(operationMethods, k) {
				fn(p, k, pi, asMap(t, v, p+" "+k))
			}
		}
	}
}

func TestVersion(t *testing.T) {
	doc := load(t)
	v, _ := doc["openapi"].(string)
	if !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi = %q, want 3.1.x", v)
	}
}

func TestOperations(t *testing.T) {
	doc := load(t)
	ids := map[string]string{}
	fourXX := regexp.MustCompile(`^4([0-9]{2}|XX)$`)
	operations(t, doc, func(path, method string, _, op map[string]any) {
		where := strings.ToUpper(method) + " " + path
		id, _ := op["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", where)
		} else if prev, dup := ids[id]; dup {
			t.Errorf("%s: operationId %q already used by %s", where, id, prev)
		} else {
			ids[id] = where
		}
		responses, _ := op["responses"].(map[string]any)
		has4xx := false
		for code := range responses {
			has4xx = has4xx || fourXX.MatchString(code)
		}
		// A CORS preflight has no client error to answer.
		if !has4xx && method != "options" {
			t.Errorf("%s: no 4xx response", where)
		}
	})
	if len(ids) == 0 {
		t.Fatal("no operations")
	}
}

// TestPathParameters checks that every {name} in a path is declared as a
// path parameter of the path item or of each of its operations.
func TestPathParameters(t *testing.T) {
	doc := load(t)
	tmpl := regexp.MustCompile(`\{([^}]+)\}`)
	declared := func(params any) map[string]bool {
		out := map[string]bool{}
		list, _ := params.([]any)
		for _, p := range list {
			pm, _ := p.(map[string]any)
			if ref, ok := pm["$ref"].(string); ok {
				r, err := resolve(doc, ref)
				if err != nil {
					continue // reported by TestRefs
				}
				pm, _ = r.(map[string]any)
			}
			if pm["in"] == "path" {
				name, _ := pm["name"].(string)
				out[name] = true
			}
		}
		return out
	}
	operations(t, doc, func(path, method string, item, op map[string]any) {
		have := declared(item["parameters"])
		for k := range declared(op["parameters"]) {
			have[k] = true
		}
		for _, m := range tmpl.FindAllStringSubmatch(path, -1) {
			if !have[m[1]] {
				t.Errorf("%s %s: path parameter {%s} not declared", strings.ToUpper(method), path, m[1])
			}
		}
	})
}

// resolve follows a local JSON pointer reference in doc.
func resolve(doc map[string]any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/components/") {
		return nil, errRef("not a reference to #/components/")
	}
	var cur any = doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, errRef("path runs through a non-mapping")
		}
		if cur, ok = m[tok]; !ok {
			return nil, errRef("no member " + tok)
		}
	}
	return cur, nil
}

type errRef string

func (e errRef) Error() string { return string(e) }

func TestRefs(t *testing.T) {
	doc := load(t)
	n := 0
	var walk func(v any, where string)
	walk = func(v any, where string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				n++
				if _, err := resolve(doc, ref); err != nil {
					t.Errorf("%s: $ref %q: %v", where, ref, err)
				}
			}
			for k, e := range x {
				walk(e, where+"/"+k)
			}
		case []any:
			for _, e := range x {
				walk(e, where+"[]")
			}
		}
	}
	walk(doc, "#")
	if n == 0 {
		t.Fatal("no $ref found: the walk is broken")
	}
}

// TestProblemTypesDocumented checks that every problem type the contract
// names has its section in docs/problems.md.
func TestProblemTypesDocumented(t *testing.T) {
	md, err := os.ReadFile("../docs/problems.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`(?m)^## ([a-z-]+)\s*$`)
	documented := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(string(md), -1) {
		documented[m[1]] = true
	}
	used := regexp.MustCompile(`docs/problems\.md#([a-z][a-z-]*)`).FindAllStringSubmatch(string(Spec), -1)
	if len(used) == 0 {
		t.Fatal("the contract names no problem type")
	}
	for _, m := range used {
		if !documented[m[1]] {
			t.Errorf("problem type %q is not documented in docs/problems.md", m[1])
		}
	}
}

func TestPaths(t *testing.T) {
	paths, err := Paths()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"/healthz":                     {"GET"},
		"/readyz":                      {"GET"},
		"/metrics":                     {"GET"},
		"/openapi.yaml":                {"GET"},
		"/ledger/checkpoint":           {"GET", "HEAD"},
		"/ledger/key":                  {"GET", "HEAD"},
		"/ledger/tile/{level}/{index}": {"GET", "HEAD"},
		"/ledger/tile/entries/{index}": {"GET", "HEAD"},
		"/1.0/identifiers/{did}":       {"GET"},
		"/1.0/create":                  {"POST"},
		"/1.0/update":                  {"POST"},
		"/1.0/deactivate":              {"POST"},

		"/issuer/offers":                          {"POST"},
		"/issuer/offers/{id}":                     {"GET"},
		"/issuer/offers/{id}/qr.png":              {"GET"},
		"/issuer/offers/{id}/qr.svg":              {"GET"},
		"/notification":                           {"OPTIONS", "POST"},
		"/.well-known/jwt-vc-issuer":              {"GET"},
		"/.well-known/openid-credential-issuer":   {"GET"},
		"/.well-known/oauth-authorization-server": {"GET"},
		"/token":                      {"OPTIONS", "POST"},
		"/nonce":                      {"OPTIONS", "POST"},
		"/credential":                 {"OPTIONS", "POST"},
		"/deferred_credential":        {"OPTIONS", "POST"},
		"/issuer/offers/{id}/approve": {"POST"},
		"/vct/{type}":                 {"GET"},
		"/schemas/{file}":             {"GET"},
		"/contexts/health-v1.jsonld":  {"GET"},

		"/issuer/credentials":             {"GET"},
		"/issuer/credentials/{id}/status": {"POST"},
		"/status/token/{id}":              {"GET"},
		"/status/bitstring/{id}":          {"GET"},
		"/credentials/issue":              {"POST"},

		"/credentials/verify":              {"POST"},
		"/presentations/verify":            {"POST"},
		"/verifier/trusted-issuers":        {"GET"},
		"/verifier/trusted-issuers/{type}": {"DELETE", "GET", "PUT"},
		"/verifier/sessions":               {"POST"},
		"/verifier/sessions/{id}":          {"GET"},
		"/verifier/sessions/{id}/events":   {"GET"},
		"/verifier/sessions/{id}/qr.png":   {"GET"},
		"/verifier/sessions/{id}/qr.svg":   {"GET"},
		"/verifier/sessions/{id}/result":   {"POST"},
		"/verifier/requests/{rid}":         {"GET", "OPTIONS", "POST"},
		"/verifier/responses/{rid}":        {"OPTIONS", "POST"},

		"/oidc/clients":                          {"POST"},
		"/oidc/clients/{id}":                     {"DELETE", "GET"},
		"/oidc/.well-known/openid-configuration": {"GET", "OPTIONS"},
		"/oidc/jwks":                             {"GET", "OPTIONS"},
		"/oidc/keys":                             {"GET"},
		"/oidc/keys/rotate":                      {"POST"},
		"/oidc/authorize":                        {"GET", "POST"},
		"/oidc/authorize/{txn}/status":           {"GET"},
		"/oidc/authorize/{txn}/complete":         {"GET"},
		"/oidc/token":                            {"OPTIONS", "POST"},
		"/oidc/userinfo":                         {"GET", "OPTIONS", "POST"},

		"/verifier/access-decisions":        {"POST"},
		"/verifier/access-decisions/nonces": {"POST"},
		"/verifier/audit":                   {"GET"},

		"/wallet/accounts":              {"POST"},
		"/wallet/sessions":              {"DELETE", "POST"},
		"/wallet/keys":                  {"GET", "POST"},
		"/wallet/dids":                  {"GET", "POST"},
		"/wallet/dids/{did}/rotate":     {"POST"},
		"/wallet/offers":                {"POST"},
		"/wallet/credentials":           {"GET"},
		"/wallet/credentials/{id}":      {"DELETE", "GET"},
		"/wallet/history":               {"GET"},
		"/wallet/export":                {"POST"},
		"/wallet/import":                {"POST"},
		"/wallet/presentations/preview": {"POST"},
		"/wallet/presentations":         {"GET", "POST"},
		"/wallet/consents":              {"GET", "POST"},
		"/wallet/consents/{id}":         {"DELETE"},
		"/wallet/access-log":            {"GET"},
	}
	for p, methods := range want {
		if got := paths[p]; !slices.Equal(got, methods) {
			t.Errorf("Paths()[%q] = %v, want %v", p, got, methods)
		}
	}
	for p := range paths {
		if _, ok := want[p]; !ok {
			t.Errorf("Paths() has %q, which this test does not know: add it here", p)
		}
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != ContentType {
		t.Errorf("Content-Type = %q, want %q", ct, ContentType)
	}
	if resp.ContentLength != int64(len(Spec)) {
		t.Errorf("Content-Length = %d, want %d", resp.ContentLength, len(Spec))
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/openapi.yaml", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: status %d, want 304", resp2.StatusCode)
	}
}
