package dcql

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func specQuery(t testing.TB, name string) *Query {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "spec", name))
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return q
}

func mustParse(t testing.TB, s string) *Query {
	t.Helper()
	q, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return q
}

// claims decodes a JSON object as encoding/json with UseNumber would.
func claims(t testing.TB, s string) map[string]any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("claims %s: %v", s, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("claims %s: not an object", s)
	}
	return m
}

func sdCand(t testing.TB, vct, js string) Candidate {
	return Candidate{Format: FormatSDJWTVC, VCT: vct, Claims: claims(t, js), HolderBinding: true}
}

func paths(ps []Path) string {
	b, _ := json.Marshal(ps)
	return string(b)
}

// problemPaths returns the paths of an *Error's problems.
func problemPaths(t testing.TB, err error) []string {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	var out []string
	for _, p := range e.Problems {
		out = append(out, p.Path)
	}
	return out
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
