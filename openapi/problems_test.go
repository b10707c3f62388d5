package openapi

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// problemKindInGo matches a problem kind written as a literal in Go code:
// an httpx.Error or walletapi.ServiceError field (Kind: "..."), an
// assignment to one (e.Kind = "...", e.Kind, e.Detail = "...", ...), or
// the kind argument of httpx.Unprocessable and httpx.Forbidden.
var problemKindInGo = regexp.MustCompile(`Kind: *"([a-z-]+)"|\.Kind(?:, *[A-Za-z_.]+)* *= *"([a-z-]+)"|Unprocessable\("([a-z-]+)"|Forbidden\("([a-z-]+)"`)

// problemHeading matches a section of docs/problems.md.
var problemHeading = regexp.MustCompile(`(?m)^## ([a-z-]+)\s*$`)

// problemKinds returns every problem kind src names, in order.
func problemKinds(src string) []string {
	var out []string
	for _, m := range problemKindInGo.FindAllStringSubmatch(src, -1) {
		for _, g := range m[1:] {
			if g != "" {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// moduleRoot is the directory of go.mod above the working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// kindsInModule maps every problem kind the module's non-test Go files
// name to where (file:line) it is first named.
func kindsInModule(t *testing.T, root string) map[string]string {
	t.Helper()
	found := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for i, line := range strings.Split(string(src), "\n") {
			for _, k := range problemKinds(line) {
				if _, ok := found[k]; !ok {
					found[k] = fmt.Sprintf("%s:%d", filepath.ToSlash(rel), i+1)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func documentedProblems(t *testing.T) map[string]bool {
	t.Helper()
	md, err := os.ReadFile("../docs/problems.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range problemHeading.FindAllStringSubmatch(string(md), -1) {
		out[m[1]] = true
	}
	if len(out) == 0 {
		t.Fatal("docs/problems.md has no ## <kind> section: the heading pattern is broken")
	}
	return out
}

// TestProblemKindsInCodeDocumented checks that every problem kind the Go
// code can answer with has its section in docs/problems.md.
func TestProblemKindsInCodeDocumented(t *testing.T) {
	documented := documentedProblems(t)
	used := kindsInModule(t, moduleRoot(t))
	// Kinds known to be in the code: if one is not found, the walk or the
	// pattern is broken, and the check below would pass vacuously.
	for _, k := range []string{"invalid-request", "not-found", "operation-not-authorized", "invalid-claims",
		"method-not-allowed", "wrong-passphrase", "offer-unavailable", "registrar-error"} {
		if _, ok := used[k]; !ok {
			t.Errorf("the scan of the module's Go files did not find problem kind %q", k)
		}
	}
	kinds := make([]string, 0, len(used))
	for k := range used {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		if !documented[k] {
			t.Errorf("problem kind %q (%s) has no \"## %s\" section in docs/problems.md", k, used[k], k)
		}
	}
}

func TestProblemKindsPattern(t *testing.T) {
	src := `
		return &httpx.Error{Status: 400, Kind: "invalid-request", Detail: d}
		return &ServiceError{Status: http.StatusBadGateway, Kind:"issuer-error"}
		e.Kind = "method-not-allowed"
		e.Kind, e.Detail = "too-large", "request body too large"
		return httpx.Unprocessable("wrong-passphrase", "passphrase", "no")
		return httpx.Forbidden("operation-not-authorized", "no")
		return &httpx.Error{Kind: kind}
		x := statusRef{Kind: kindBitstring}
		e.Detail = "not-a-kind"
	`
	want := []string{"invalid-request", "issuer-error", "method-not-allowed", "too-large", "wrong-passphrase", "operation-not-authorized"}
	if got := problemKinds(src); !slices.Equal(got, want) {
		t.Errorf("problemKinds = %q, want %q", got, want)
	}
}
