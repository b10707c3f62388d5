package jsonld

import (
	"strings"
)

// Kind says what an RDF term is.
type Kind uint8

// The kinds of term. A Quad's Graph is the zero Term (kind None) for the
// default graph.
const (
	None Kind = iota
	IRI
	BlankNode
	Literal
)

// Well-known datatypes.
const (
	XSDString     = "http://www.w3.org/2001/XMLSchema#string"
	RDFLangString = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
)

// Term is an RDF term. Value is the IRI, the blank node label without its
// "_:" prefix, or the literal's lexical form. Datatype and Language are for
// literals only; a literal with a Language has datatype RDFLangString and
// a plain literal has XSDString.
type Term struct {
	Kind     Kind
	Value    string
	Datatype string
	Language string
}

// Quad is an RDF quad. Graph is the zero Term for the default graph.
type Quad struct {
	Subject, Predicate, Object, Graph Term
}

// AppendNQuad appends q as one canonical N-Quads line (with its newline), as
// RDFC-1.0 serializes it.
func AppendNQuad(b []byte, q *Quad) []byte {
	b = appendTerm(b, &q.Subject)
	b = append(b, ' ')
	b = appendTerm(b, &q.Predicate)
	b = append(b, ' ')
	b = appendTerm(b, &q.Object)
	if q.Graph.Kind != None {
		b = append(b, ' ')
		b = appendTerm(b, &q.Graph)
	}
	return append(b, " .\n"...)
}

func appendTerm(b []byte, t *Term) []byte {
	switch t.Kind {
	case IRI:
		b = append(b, '<')
		b = appendIRI(b, t.Value)
		return append(b, '>')
	case BlankNode:
		b = append(b, "_:"...)
		return append(b, t.Value...)
	case Literal:
		b = append(b, '"')
		b = appendLiteral(b, t.Value)
		b = append(b, '"')
		switch {
		case t.Datatype == RDFLangString || (t.Language != "" && t.Datatype == ""):
			if t.Language != "" {
				b = append(b, '@')
				b = append(b, t.Language...)
			}
		case t.Datatype != "" && t.Datatype != XSDString:
			b = append(b, "^^<"...)
			b = appendIRI(b, t.Datatype)
			b = append(b, '>')
		}
		return b
	}
	return b
}

const hexDigits = "0123456789ABCDEF"

func appendUCHAR(b []byte, c byte) []byte {
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
}

// appendLiteral escapes a literal's lexical form as canonical N-Quads
// does: ECHAR for \b \t \n \f \r " and \, UCHAR for the other C0 controls
// and DEL, everything else as is.
func appendLiteral(b []byte, s string) []byte {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\\' }) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		default:
			if c < 0x20 || c == 0x7f {
				b = appendUCHAR(b, c)
			} else {
				b = append(b, c)
			}
		}
	}
	return b
}

func iriNeedsEscape(c byte) bool {
	return c <= 0x20 || c == '<' || c == '>' || c == '"' || c == '{' || c == '}' || c == '|' || c == '^' || c == '`' || c == '\\'
}

// appendIRI escapes the characters an N-Quads IRIREF cannot hold as UCHAR.
func appendIRI(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; iriNeedsEscape(c) {
			b = appendUCHAR(b, c)
		} else {
			b = append(b, c)
		}
	}
	return b
}
