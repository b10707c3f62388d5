package arch

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/medid/medid"

type pkg struct {
	dir        string
	path       string
	hasDoc     bool
	imports    map[string]bool // from non-test files
	testImport map[string]bool
}

// packages parses every Go package under the module root.
func packages(t *testing.T) map[string]*pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*pkg{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "data" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		dir := filepath.Dir(p)
		rel, _ := filepath.Rel(root, dir)
		ip := module
		if rel != "." {
			ip += "/" + filepath.ToSlash(rel)
		}
		k := out[ip]
		if k == nil {
			k = &pkg{dir: dir, path: ip, imports: map[string]bool{}, testImport: map[string]bool{}}
			out[ip] = k
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		isTest := strings.HasSuffix(p, "_test.go")
		if !isTest && f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+f.Name.Name+" ") || f.Name.Name == "main" && f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Command ") {
			k.hasDoc = true
		}
		for _, im := range f.Imports {
			v, _ := strconv.Unquote(im.Path.Value)
			if isTest {
				k.testImport[v] = true
			} else {
				k.imports[v] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range packages(t) {
		onlyTests := true
		entries, _ := os.ReadDir(p.dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
				onlyTests = false
			}
		}
		if !onlyTests && !p.hasDoc {
			t.Errorf("%s has no package doc comment (\"Package x …\" or \"Command x …\")", p.path)
		}
	}
}

// layer returns the architectural layer of a package path, or "".
func layer(path string) string {
	rel := strings.TrimPrefix(path, module+"/")
	first, _, _ := strings.Cut(rel, "/")
	switch first {
	case "did", "credentials", "issuer", "verifier", "wallet-api":
		return first
	}
	return ""
}

// allowed[a][b]: may a package in layer a import one in layer b?
var forbidden = map[string][]string{
	"did":         {"credentials", "issuer", "verifier", "wallet-api"},
	"credentials": {"issuer", "verifier", "wallet-api"},
	"issuer":      {"verifier", "wallet-api"},
	"verifier":    {"issuer", "wallet-api"},
	"wallet-api":  {"issuer", "verifier"},
}

func TestImportDirection(t *testing.T) {
	pkgs := packages(t)
	for _, p := range pkgs {
		from := layer(p.path)
		for im := range p.imports {
			if !strings.HasPrefix(im, module) {
				if strings.HasPrefix(im, "github.com/hyperledger/aries-framework-go") && from == "" && !strings.Contains(p.path, "/internal/") {
					t.Errorf("%s imports aries-framework-go outside a wrapper", p.path)
				}
				continue
			}
			to := layer(im)
			for _, f := range forbidden[from] {
				if to == f {
					t.Errorf("%s (%s) imports %s (%s): imports go did ← credentials ← issuer/verifier/walletapi", p.path, from, im, to)
				}
			}
		}
	}
}

// TestOnlyAppChoosesAStore: production code outside internal/app never
// imports a storage backend (tests may, to run against the real thing).
func TestOnlyAppChoosesAStore(t *testing.T) {
	backends := []string{module + "/internal/kv/boltkv", module + "/internal/kv/rediskv"}
	for _, p := range packages(t) {
		if p.path == module+"/internal/app" || strings.HasPrefix(p.path, module+"/internal/kv/") {
			continue
		}
		for _, b := range backends {
			if p.imports[b] {
				t.Errorf("%s imports %s: only internal/app chooses a storage backend", p.path, b)
			}
		}
	}
}

// TestTheChecksCanFail makes sure the walkers see the tree at all.
func TestTheChecksCanFail(t *testing.T) {
	pkgs := packages(t)
	reg, ok := pkgs[module+"/did/registry"]
	if !ok || !reg.hasDoc || !reg.imports[module+"/did"] {
		t.Fatalf("the parser did not see did/registry as expected: %+v", reg)
	}
	if layer(module+"/did/registry") != "did" || layer(module+"/internal/app") != "" {
		t.Fatal("layer() is wrong")
	}
}
