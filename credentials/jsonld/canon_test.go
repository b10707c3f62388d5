package jsonld

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRDFCanonSuite runs the RDF Dataset Canonicalization test suite's
// evaluation tests (URDNA2015, which RDFC-1.0 standardised unchanged; the
// copy json-gold ships, see testdata/urdna2015/SOURCE.md): every output
// byte for byte.
func TestRDFCanonSuite(t *testing.T) {
	ins, err := filepath.Glob("testdata/urdna2015/*-in.nq")
	if err != nil || len(ins) < 50 {
		t.Fatalf("test suite missing: %d files, %v", len(ins), err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), "-in.nq")
		t.Run(name, func(t *testing.T) {
			input, _ := os.ReadFile(in)
			want, err := os.ReadFile(strings.TrimSuffix(in, "-in.nq") + "-urdna2015.nq")
			if err != nil {
				t.Fatal(err)
			}
			quads, err := ParseNQuads(string(input))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Canonicalize(quads)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// hardGraphs are blank-node graphs built to need Hash N-Degree Quads:
// cycles, twin components, cliques, graphs in graphs.
func hardGraphs() map[string]string {
	const p = "<http://example.org/p>"
	const q = "<http://example.org/q>"
	ring := func(n int, pred string) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "_:r%d %s _:r%d .\n", i, pred, (i+1)%n)
		}
		return b.String()
	}
	clique := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if i != j {
					fmt.Fprintf(&b, "_:k%d %s _:k%d .\n", i, p, j)
				}
			}
		}
		return b.String()
	}
	return map[string]string{
		"ring3":             ring(3, p),
		"ring8":             ring(8, p),
		"two rings":         ring(4, p) + strings.ReplaceAll(ring(4, p), "_:r", "_:s"),
		"ring4 and ring2x2": ring(4, p) + "_:x0 " + p + " _:x1 .\n_:x1 " + p + " _:x0 .\n_:y0 " + p + " _:y1 .\n_:y1 " + p + " _:y0 .\n",
		"clique4":           clique(4),
		"self loop":         "_:a " + p + " _:a .\n_:b " + p + " _:b .\n",
		"two predicates":    ring(5, p) + ring(5, q),
		"graph names":       "_:a " + p + " _:b _:g .\n_:b " + p + " _:a _:g .\n_:g " + q + " \"x\" .\n",
		"diamond":           "_:a " + p + " _:b .\n_:a " + p + " _:c .\n_:b " + p + " _:d .\n_:c " + p + " _:d .\n",
		"literal twins":     "_:a " + p + " \"v\" .\n_:b " + p + " \"v\" .\n_:a " + q + " _:b .\n_:b " + q + " _:a .\n",
	}
}

// relabel renames every blank node and shuffles the quads: the canonical
// form must not change.
func relabel(quads []Quad, seed uint64) []Quad {
	r := rand.New(rand.NewPCG(seed, seed))
	names := map[string]string{}
	name := func(t *Term) {
		if t.Kind != BlankNode {
			return
		}
		if _, ok := names[t.Value]; !ok {
			names[t.Value] = fmt.Sprintf("n%dx%d", r.IntN(1000), len(names))
		}
		t.Value = names[t.Value]
	}
	out := slices.Clone(quads)
	for i := range out {
		name(&out[i].Subject)
		name(&out[i].Object)
		name(&out[i].Graph)
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestHardGraphs(t *testing.T) {
	for name, nq := range hardGraphs() {
		t.Run(name, func(t *testing.T) {
			quads, err := ParseNQuads(nq)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Canonicalize(quads)
			if err != nil {
				t.Fatal(err)
			}
			want, err := goldNormalizeNQuads(nq)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Fatalf("got:\n%s\njson-gold:\n%s", got, want)
			}
			for seed := uint64(1); seed < 6; seed++ {
				again, err := Canonicalize(relabel(quads, seed))
				if err != nil || string(again) != string(got) {
					t.Fatalf("relabelled input canonicalizes differently (%v):\n%s", err, again)
				}
			}
		})
	}
}

// TestPoisonGraph: a large clique of indistinguishable blank nodes is
// refused instead of taking factorial time.
func TestPoisonGraph(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 12; i++ {
		for j := 0; j < 12; j++ {
			if i != j {
				fmt.Fprintf(&b, "_:k%d <http://example.org/p> _:k%d .\n", i, j)
			}
		}
	}
	quads, err := ParseNQuads(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Canonicalize(quads); !errors.Is(err, ErrTooComplex) {
		t.Fatalf("got %v, want ErrTooComplex", err)
	}
}

// TestBlankGraphName: a blank node naming a graph takes part in
// first-degree hashes like any other. json-gold v0.4.2 gets this wrong (it
// labels _:a c14n0); rdf-canonize 5.0.0, the RDFC-1.0 reference, gives
// this output.
func TestBlankGraphName(t *testing.T) {
	quads, err := ParseNQuads("_:a <B:> _:a _:0 .\n")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Canonicalize(quads)
	if err != nil {
		t.Fatal(err)
	}
	if want := "_:c14n1 <B:> _:c14n1 _:c14n0 .\n"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestBlankSelfLoop: a quad whose subject and object are the same blank
// node counts once in that node's first-degree hash (RDFC-1.0 4.4.3 step
// 2: each blank node of a quad). json-gold v0.4.2 counts it twice and
// gives another labelling; this is rdf-canonize 5.0.0's output.
func TestBlankSelfLoop(t *testing.T) {
	quads, err := ParseNQuads("_:a <X7:> _:a .\n_:b <X1:0> _:0 .\n")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Canonicalize(quads)
	if err != nil {
		t.Fatal(err)
	}
	if want := "_:c14n1 <X1:0> _:c14n0 .\n_:c14n2 <X7:> _:c14n2 .\n"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestEscaping(t *testing.T) {
	quads := []Quad{{
		Subject:   Term{Kind: IRI, Value: "http://example.org/a b"},
		Predicate: Term{Kind: IRI, Value: "http://example.org/p"},
		Object:    Term{Kind: Literal, Value: "q\"\\\n\r\t\b\f\x01\x7fé", Datatype: XSDString},
	}, {
		Subject:   Term{Kind: BlankNode, Value: "x"},
		Predicate: Term{Kind: IRI, Value: "http://example.org/p"},
		Object:    Term{Kind: Literal, Value: "chat", Datatype: RDFLangString, Language: "fr"},
		Graph:     Term{Kind: IRI, Value: "http://example.org/g"},
	}}
	got, err := Canonicalize(quads)
	if err != nil {
		t.Fatal(err)
	}
	want := "<http://example.org/a\\u0020b> <http://example.org/p> \"q\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u007Fé\" .\n" +
		"_:c14n0 <http://example.org/p> \"chat\"@fr <http://example.org/g> .\n"
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	// And it parses back to the same quads.
	back, err := ParseNQuads(string(got))
	if err != nil {
		t.Fatal(err)
	}
	if back[1].Object != quads[0].Object && back[0].Object != quads[0].Object {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestParseNQuadsErrors(t *testing.T) {
	for _, bad := range []string{
		`<http://a> <http://b> <http://c>`,
		`"lit" <http://b> <http://c> .`,
		`<http://a> _:b <http://c> .`,
		`<rel> <http://b> <http://c> .`,
		`<http://a> <http://b> "unterminated .`,
		`<http://a> <http://b> "x"^^"y" .`,
		`<http://a> <http://b> "\q" .`,
		`<http://a> <http://b> <http://c> . junk`,
		`<http://a> <http://b> <http://c> "g" .`,
	} {
		if _, err := ParseNQuads(bad); err == nil {
			t.Errorf("ParseNQuads(%q) accepted", bad)
		}
	}
}

func FuzzCanonicalize(f *testing.F) {
	for _, nq := range hardGraphs() {
		f.Add(nq)
	}
	ins, _ := filepath.Glob("testdata/urdna2015/*-in.nq")
	for _, in := range ins[:min(len(ins), 20)] {
		b, _ := os.ReadFile(in)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, nq string) {
		if len(nq) > 4096 {
			return
		}
		quads, err := ParseNQuads(nq)
		if err != nil || len(quads) == 0 {
			return
		}
		start := time.Now()
		got, err := Canonicalize(quads)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("took %v", d)
		}
		if errors.Is(err, ErrTooComplex) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		// Invariant: blank node names and quad order do not matter.
		again, err := Canonicalize(relabel(quads, uint64(len(nq))))
		if err != nil || string(again) != string(got) {
			t.Fatalf("relabelled input canonicalizes differently (%v):\n%s\nvs\n%s", err, again, got)
		}
		// The output parses and is its own canonical form.
		back, err := ParseNQuads(string(got))
		if err != nil {
			t.Fatalf("canonical output does not parse: %v\n%s", err, got)
		}
		if twice, err := Canonicalize(back); err != nil || string(twice) != string(got) {
			t.Fatalf("not idempotent (%v):\n%s\nvs\n%s", err, twice, got)
		}
		// Same N-Quads as json-gold's URDNA2015, where both can be compared
		// (json-gold's has no work limit: small graphs only).
		if !comparable(quads) || blankNodes(quads) > 16 {
			return
		}
		var in []byte
		for i := range quads {
			in = AppendNQuad(in, &quads[i])
		}
		want, err := goldNormalizeNQuads(string(in))
		if err != nil {
			return
		}
		if string(got) != want {
			t.Fatalf("input:\n%s\ngot:\n%s\njson-gold:\n%s", in, got, want)
		}
	})
}
