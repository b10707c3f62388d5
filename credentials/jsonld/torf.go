package jsonld

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/gowebpki/jcs"
)

// Vocabulary used when converting to RDF.
const (
	rdfType    = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
	rdfFirst   = "http://www.w3.org/1999/02/22-rdf-syntax-ns#first"
	rdfRest    = "http://www.w3.org/1999/02/22-rdf-syntax-ns#rest"
	rdfNil     = "http://www.w3.org/1999/02/22-rdf-syntax-ns#nil"
	rdfJSON    = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
	xsdBoolean = "http://www.w3.org/2001/XMLSchema#boolean"
	xsdInteger = "http://www.w3.org/2001/XMLSchema#integer"
	xsdDouble  = "http://www.w3.org/2001/XMLSchema#double"
)

// rdfBuilder converts an expanded JSON-LD document to RDF (JSON-LD 1.1
// "Deserialize JSON-LD to RDF"), refusing as it goes what would otherwise be
// dropped: terms only the undefined-term @vocab mapped and identifiers that
// are not absolute IRIs or blank nodes. Unlike the algorithm in the
// specification it needs no node map: the dataset is a set, so a node
// described in two places yields the same triples either way, and blank
// node labels only have to be consistent, which canonicalization then
// makes canonical.
type rdfBuilder struct {
	quads  []Quad
	labels map[string]string
	next   int
}

func toRDF(expanded []any) ([]Quad, error) {
	b := &rdfBuilder{labels: map[string]string{}}
	for _, e := range expanded {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if _, v := m["@value"]; v {
			continue // a free-floating value has no triple
		}
		if _, l := m["@list"]; l {
			continue // nor has a free-floating list
		}
		if _, err := b.node(m, Term{}); err != nil {
			return nil, err
		}
	}
	return b.quads, nil
}

func (b *rdfBuilder) fresh() Term {
	t := Term{Kind: BlankNode, Value: "b" + strconv.Itoa(b.next)}
	b.next++
	return t
}

// id returns the term for an @id or @type value: an IRI or a relabelled
// blank node.
func (b *rdfBuilder) id(s, where string) (Term, error) {
	if strings.HasPrefix(s, "_:") {
		l, ok := b.labels[s]
		if !ok {
			l = b.fresh().Value
			b.labels[s] = l
		}
		return Term{Kind: BlankNode, Value: l}, nil
	}
	if err := checkIRI(s, where, false); err != nil {
		return Term{}, err
	}
	return Term{Kind: IRI, Value: s}, nil
}

func (b *rdfBuilder) add(s Term, p string, o, g Term) {
	b.quads = append(b.quads, Quad{Subject: s, Predicate: Term{Kind: IRI, Value: p}, Object: o, Graph: g})
}

func (b *rdfBuilder) node(n map[string]any, graph Term) (Term, error) {
	var subject Term
	if s, ok := n["@id"].(string); ok {
		var err error
		if subject, err = b.id(s, "@id"); err != nil {
			return Term{}, err
		}
	} else {
		subject = b.fresh()
	}
	for k, v := range n {
		switch k {
		case "@type":
			for _, t := range asList(v) {
				s, ok := t.(string)
				if !ok {
					return Term{}, fmt.Errorf("%w: @type is not a string", ErrInvalid)
				}
				o, err := b.id(s, "@type")
				if err != nil {
					return Term{}, err
				}
				b.add(subject, rdfType, o, graph)
			}
		case "@graph":
			for _, e := range asList(v) {
				m, ok := e.(map[string]any)
				if !ok || isValueOrList(m) {
					continue
				}
				if _, err := b.node(m, subject); err != nil {
					return Term{}, err
				}
			}
		case "@included":
			for _, e := range asList(v) {
				if m, ok := e.(map[string]any); ok && !isValueOrList(m) {
					if _, err := b.node(m, graph); err != nil {
						return Term{}, err
					}
				}
			}
		case "@reverse":
			rev, _ := v.(map[string]any)
			for p, vals := range rev {
				if err := checkIRI(p, "property", false); err != nil {
					return Term{}, err
				}
				for _, e := range asList(vals) {
					m, ok := e.(map[string]any)
					if !ok || isValueOrList(m) {
						return Term{}, fmt.Errorf("%w: @reverse value is not a node", ErrInvalid)
					}
					o, err := b.node(m, graph)
					if err != nil {
						return Term{}, err
					}
					b.add(o, p, subject, graph)
				}
			}
		case "@language", "@direction":
			return Term{}, fmt.Errorf("%w: %s on a node object", ErrInvalid, k)
		default:
			if strings.HasPrefix(k, "@") {
				continue
			}
			if err := checkIRI(k, "property", false); err != nil {
				return Term{}, err
			}
			for _, e := range asList(v) {
				o, err := b.object(e, graph)
				if err != nil {
					return Term{}, err
				}
				b.add(subject, k, o, graph)
			}
		}
	}
	return subject, nil
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func isValueOrList(m map[string]any) bool {
	_, v := m["@value"]
	_, l := m["@list"]
	return v || l
}

func (b *rdfBuilder) object(v any, graph Term) (Term, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Term{}, fmt.Errorf("%w: property value is not an object", ErrInvalid)
	}
	if _, ok := m["@value"]; ok {
		return literal(m)
	}
	if l, ok := m["@list"]; ok {
		return b.list(asList(l), graph)
	}
	return b.node(m, graph)
}

func (b *rdfBuilder) list(items []any, graph Term) (Term, error) {
	if len(items) == 0 {
		return Term{Kind: IRI, Value: rdfNil}, nil
	}
	head := b.fresh()
	cur := head
	for i, e := range items {
		o, err := b.object(e, graph)
		if err != nil {
			return Term{}, err
		}
		b.add(cur, rdfFirst, o, graph)
		next := Term{Kind: IRI, Value: rdfNil}
		if i < len(items)-1 {
			next = b.fresh()
		}
		b.add(cur, rdfRest, next, graph)
		cur = next
	}
	return head, nil
}

func literal(m map[string]any) (Term, error) {
	v := m["@value"]
	dt, _ := m["@type"].(string)
	if dt == "@json" {
		raw, err := json.Marshal(v)
		if err != nil {
			return Term{}, fmt.Errorf("%w: @json value: %v", ErrInvalid, err)
		}
		c, err := jcs.Transform(raw)
		if err != nil {
			return Term{}, fmt.Errorf("%w: @json value: %v", ErrInvalid, err)
		}
		return Term{Kind: Literal, Value: string(c), Datatype: rdfJSON}, nil
	}
	if dt != "" {
		if err := checkIRI(dt, "datatype", false); err != nil {
			return Term{}, err
		}
	}
	or := func(d string) string {
		if dt != "" {
			return dt
		}
		return d
	}
	switch x := v.(type) {
	case bool:
		return Term{Kind: Literal, Value: strconv.FormatBool(x), Datatype: or(xsdBoolean)}, nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return Term{}, fmt.Errorf("%w: number out of range", ErrInvalid)
		}
		if x != math.Trunc(x) || math.Abs(x) >= 1e21 || dt == xsdDouble {
			return Term{Kind: Literal, Value: canonicalDouble(x), Datatype: or(xsdDouble)}, nil
		}
		s := "0"
		if x != 0 {
			s = strconv.FormatFloat(x, 'f', 0, 64)
		}
		return Term{Kind: Literal, Value: s, Datatype: or(xsdInteger)}, nil
	case string:
		if lang, ok := m["@language"].(string); ok && dt == "" {
			if !validLanguage(lang) {
				return Term{}, fmt.Errorf("%w: language tag %q", ErrInvalid, lang)
			}
			return Term{Kind: Literal, Value: x, Datatype: RDFLangString, Language: lang}, nil
		}
		return Term{Kind: Literal, Value: x, Datatype: or(XSDString)}, nil
	}
	return Term{}, fmt.Errorf("%w: @value is not a string, number or boolean", ErrInvalid)
}

// validLanguage reports whether s has the shape of a BCP 47 tag
// (letters, then hyphen-separated letters and digits), which RDF requires
// and which json-gold would otherwise drop the triple for.
func validLanguage(s string) bool {
	for i, sub := range strings.Split(s, "-") {
		if sub == "" || len(sub) > 8 {
			return false
		}
		for j := 0; j < len(sub); j++ {
			c := sub[j]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// canonicalDouble is the xsd:double canonical form JSON-LD uses: the
// mantissa with 15 digits after the point less its trailing zeros (one
// kept), "E", the exponent without sign or leading zeros when positive.
func canonicalDouble(x float64) string {
	s := strconv.FormatFloat(x, 'E', 15, 64) // -1.500000000000000E-05
	mant, exp, _ := strings.Cut(s, "E")
	mant = strings.TrimRight(mant, "0")
	if strings.HasSuffix(mant, ".") {
		mant += "0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// checkIRI refuses terms that only the undefined-term @vocab mapped, and
// IRIs that are not absolute or hold white space or controls.
func checkIRI(s, where string, blankOK bool) error {
	if strings.HasPrefix(s, undefinedVocab) {
		return &UnknownTermError{Term: strings.TrimPrefix(s, undefinedVocab)}
	}
	if blankOK && strings.HasPrefix(s, "_:") {
		return nil
	}
	if !isAbsoluteIRI(s) || !validPercents(s) || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return &InvalidIRIError{IRI: s, Where: where}
	}
	return nil
}

// validPercents reports whether every % in s starts a two-hex-digit
// escape (RFC 3987 pct-encoded).
func validPercents(s string) bool {
	isHex := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	for i := strings.IndexByte(s, '%'); i >= 0; {
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return false
		}
		j := strings.IndexByte(s[i+3:], '%')
		if j < 0 {
			break
		}
		i += 3 + j
	}
	return true
}
