package jsonld

import (
	"fmt"
	"strings"

	"github.com/piprate/json-gold/ld"
)

func fromGold(ds *ld.RDFDataset) []Quad {
	n := 0
	for _, g := range ds.Graphs {
		n += len(g)
	}
	out := make([]Quad, 0, n)
	for _, g := range ds.Graphs {
		for _, q := range g {
			out = append(out, Quad{
				Subject:   fromGoldNode(q.Subject),
				Predicate: fromGoldNode(q.Predicate),
				Object:    fromGoldNode(q.Object),
				Graph:     fromGoldNode(q.Graph),
			})
		}
	}
	return out
}

func fromGoldNode(n ld.Node) Term {
	switch x := n.(type) {
	case *ld.IRI:
		return Term{Kind: IRI, Value: x.Value}
	case *ld.BlankNode:
		return Term{Kind: BlankNode, Value: strings.TrimPrefix(x.Attribute, "_:")}
	case *ld.Literal:
		t := Term{Kind: Literal, Value: x.Value, Datatype: x.Datatype, Language: x.Language}
		if t.Datatype == "" {
			t.Datatype = XSDString
			if t.Language != "" {
				t.Datatype = RDFLangString
			}
		}
		return t
	}
	return Term{}
}

// plainGoldLoader serves the Loader's documents to upstream json-gold
// unchanged (no undefined-term @vocab): upstream json-gold, not our copy
// of its expansion, is the independent reference here.
func plainGoldLoader(l *Loader) ld.DocumentLoader {
	return upstreamLoader(l.parsed)
}

// upstreamLoader is a document loader for upstream json-gold.
type upstreamLoader map[string]any

func (u upstreamLoader) LoadDocument(url string) (*ld.RemoteDocument, error) {
	v, ok := u[url]
	if !ok {
		return nil, &UnknownContextError{URL: url}
	}
	return &ld.RemoteDocument{DocumentURL: url, Document: deepCopy(v)}, nil
}

// goldNormalize is json-gold's own pipeline: expansion, its toRDF and its
// URDNA2015, serialized as N-Quads.
func goldNormalize(l *Loader, doc any) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("json-gold panicked: %v", r)
		}
	}()
	opts := ld.NewJsonLdOptions("")
	opts.ProcessingMode = ld.JsonLd_1_1
	opts.DocumentLoader = plainGoldLoader(l)
	opts.Algorithm = "URDNA2015"
	opts.Format = "application/n-quads"
	res, err := ld.NewJsonLdProcessor().Normalize(doc, opts)
	if err != nil {
		return "", err
	}
	return res.(string), nil
}

// goldNormalizeNQuads is json-gold's URDNA2015 of an N-Quads document.
func goldNormalizeNQuads(nq string) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("json-gold panicked: %v", r)
		}
	}()
	opts := ld.NewJsonLdOptions("")
	opts.Algorithm = "URDNA2015"
	opts.Format = "application/n-quads"
	opts.InputFormat = "application/n-quads"
	res, err := ld.NewJsonLdProcessor().Normalize(nq, opts)
	if err != nil {
		return "", err
	}
	return res.(string), nil
}

// comparable reports whether json-gold and RDFC-1.0 must agree on quads:
// json-gold escapes only \t \n \r \" \\ in literals (RDFC-1.0 also the
// other controls, and IRIs), drops triples whose http(s) IRIs fail its URL
// pattern or whose language tag fails its pattern, and writes doubles with
// negative exponents differently, and mislabels blank nodes that name
// graphs or that are both subject and object of one quad.
func comparable(quads []Quad) bool {
	bad := func(s string) bool {
		return strings.ContainsFunc(s, func(r rune) bool {
			return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f
		})
	}
	for _, q := range quads {
		if q.Subject.Kind == BlankNode && q.Subject == q.Object {
			return false // json-gold hashes these twice: see TestBlankSelfLoop
		}
		for _, t := range []Term{q.Subject, q.Predicate, q.Object, q.Graph} {
			switch t.Kind {
			case IRI:
				if bad(t.Value) || strings.ContainsFunc(t.Value, func(r rune) bool { return r <= 0x20 || strings.ContainsRune("<>\"{}|^`\\", r) }) {
					return false
				}
				if ld.InvalidNode(ld.NewIRI(t.Value)) {
					return false
				}
			case BlankNode:
				if t == q.Graph {
					return false // json-gold mislabels these: see TestBlankGraphName
				}
				if strings.ContainsFunc(t.Value, func(r rune) bool { return !(r < 0x80 && (isAlnum(byte(r)) || r == '_')) }) {
					return false
				}
			case Literal:
				if bad(t.Value) || ld.InvalidNode(ld.NewLiteral(t.Value, t.Datatype, t.Language)) {
					return false
				}
				if t.Datatype == xsdDouble && strings.Contains(t.Value, "E-") || t.Datatype == xsdInteger && len(t.Value) > 15 ||
					t.Datatype == rdfJSON { // json-gold writes a number @json value as a double, not as JCS
					return false
				}
			}
		}
	}
	return true
}

// blankNodes counts the distinct blank nodes of quads.
func blankNodes(quads []Quad) int {
	seen := map[string]bool{}
	for _, q := range quads {
		for _, t := range []Term{q.Subject, q.Object, q.Graph} {
			if t.Kind == BlankNode {
				seen[t.Value] = true
			}
		}
	}
	return len(seen)
}
