package jsonld

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseNQuads parses an N-Quads document (RDF 1.1 N-Quads, one statement a
// line, comments allowed) into quads. It is for tests, tools and test
// suites, and is strict: anything it does not understand is an error that
// names the line.
func ParseNQuads(doc string) ([]Quad, error) {
	var out []Quad
	for n, line := range strings.Split(doc, "\n") {
		p := &nqParser{s: strings.TrimRight(line, "\r")}
		p.ws()
		if p.done() || p.peek() == '#' {
			continue
		}
		q, err := p.quad()
		if err != nil {
			return nil, fmt.Errorf("jsonld: N-Quads line %d: %w", n+1, err)
		}
		out = append(out, q)
	}
	return out, nil
}

type nqParser struct {
	s string
	i int
}

func (p *nqParser) done() bool { return p.i >= len(p.s) }
func (p *nqParser) peek() byte { return p.s[p.i] }
func (p *nqParser) ws() {
	for !p.done() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
}

func (p *nqParser) quad() (Quad, error) {
	var q Quad
	var err error
	if q.Subject, err = p.term(false); err != nil {
		return q, err
	}
	if q.Subject.Kind == Literal {
		return q, fmt.Errorf("subject is a literal")
	}
	p.ws()
	if q.Predicate, err = p.term(false); err != nil {
		return q, err
	}
	if q.Predicate.Kind != IRI {
		return q, fmt.Errorf("predicate is not an IRI")
	}
	p.ws()
	if q.Object, err = p.term(true); err != nil {
		return q, err
	}
	p.ws()
	if !p.done() && p.peek() != '.' {
		if q.Graph, err = p.term(false); err != nil {
			return q, err
		}
		if q.Graph.Kind == Literal {
			return q, fmt.Errorf("graph is a literal")
		}
		p.ws()
	}
	if p.done() || p.peek() != '.' {
		return q, fmt.Errorf("missing final '.'")
	}
	p.i++
	p.ws()
	if !p.done() && p.peek() != '#' {
		return q, fmt.Errorf("text after '.'")
	}
	return q, nil
}

func (p *nqParser) term(literalOK bool) (Term, error) {
	if p.done() {
		return Term{}, fmt.Errorf("unexpected end of line")
	}
	switch p.peek() {
	case '<':
		v, err := p.iri()
		return Term{Kind: IRI, Value: v}, err
	case '_':
		if !strings.HasPrefix(p.s[p.i:], "_:") {
			return Term{}, fmt.Errorf("bad blank node at column %d", p.i+1)
		}
		p.i += 2
		start := p.i
		for !p.done() && (isAlnum(p.peek()) || strings.IndexByte("_-.", p.peek()) >= 0 || p.peek() >= 0x80) {
			p.i++
		}
		for p.i > start && p.s[p.i-1] == '.' { // a label never ends in '.'
			p.i--
		}
		if p.i == start || p.s[start] == '-' || p.s[start] == '.' {
			return Term{}, fmt.Errorf("bad blank node label at column %d", start+1)
		}
		if !p.done() && p.peek() != ' ' && p.peek() != '\t' && p.peek() != '.' && p.peek() != '#' {
			return Term{}, fmt.Errorf("bad blank node label at column %d", start+1)
		}
		if !utf8.ValidString(p.s[start:p.i]) {
			return Term{}, fmt.Errorf("blank node label is not UTF-8")
		}
		return Term{Kind: BlankNode, Value: p.s[start:p.i]}, nil
	case '"':
		if !literalOK {
			return Term{}, fmt.Errorf("literal not allowed here")
		}
		v, err := p.literal()
		if err != nil {
			return Term{}, err
		}
		t := Term{Kind: Literal, Value: v, Datatype: XSDString}
		if !p.done() && p.peek() == '@' {
			p.i++
			start := p.i
			for !p.done() && (isAlnum(p.peek()) || p.peek() == '-') {
				p.i++
			}
			if p.i == start {
				return Term{}, fmt.Errorf("empty language tag")
			}
			t.Language, t.Datatype = p.s[start:p.i], RDFLangString
		} else if strings.HasPrefix(p.s[p.i:], "^^") {
			p.i += 2
			if p.done() || p.peek() != '<' {
				return Term{}, fmt.Errorf("datatype is not an IRI")
			}
			if t.Datatype, err = p.iri(); err != nil {
				return Term{}, err
			}
		}
		return t, nil
	}
	return Term{}, fmt.Errorf("unexpected %q at column %d", p.peek(), p.i+1)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *nqParser) iri() (string, error) {
	p.i++ // '<'
	var b strings.Builder
	for !p.done() {
		c := p.peek()
		switch {
		case c == '>':
			p.i++
			v := b.String()
			if !utf8.ValidString(v) {
				return "", fmt.Errorf("IRI is not UTF-8")
			}
			if !isAbsoluteIRI(v) {
				return "", fmt.Errorf("IRI %q is not absolute", v)
			}
			return v, nil
		case c == '\\':
			r, err := p.uchar()
			if err != nil {
				return "", err
			}
			b.WriteRune(r)
		case c <= 0x20 || strings.IndexByte("<\"{}|^`", c) >= 0:
			return "", fmt.Errorf("character %q not allowed in an IRI", c)
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", fmt.Errorf("unterminated IRI")
}

func (p *nqParser) uchar() (rune, error) {
	rest := p.s[p.i:]
	n := 0
	switch {
	case strings.HasPrefix(rest, `\u`):
		n = 4
	case strings.HasPrefix(rest, `\U`):
		n = 8
	default:
		return 0, fmt.Errorf("bad escape at column %d", p.i+1)
	}
	if len(rest) < 2+n {
		return 0, fmt.Errorf("short escape at column %d", p.i+1)
	}
	v, err := strconv.ParseUint(rest[2:2+n], 16, 32)
	if err != nil || !utf8.ValidRune(rune(v)) {
		return 0, fmt.Errorf("bad escape at column %d", p.i+1)
	}
	p.i += 2 + n
	return rune(v), nil
}

func (p *nqParser) literal() (string, error) {
	p.i++ // '"'
	var b strings.Builder
	for !p.done() {
		c := p.peek()
		switch c {
		case '"':
			p.i++
			if !utf8.ValidString(b.String()) {
				return "", fmt.Errorf("literal is not UTF-8")
			}
			return b.String(), nil
		case '\n', '\r':
			return "", fmt.Errorf("raw line break in literal")
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", fmt.Errorf("unterminated escape")
			}
			e := p.s[p.i+1]
			if i := strings.IndexByte(`btnfr"'\`, e); i >= 0 {
				b.WriteByte("\b\t\n\f\r\"'\\"[i])
				p.i += 2
				continue
			}
			r, err := p.uchar()
			if err != nil {
				return "", err
			}
			b.WriteRune(r)
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", fmt.Errorf("unterminated literal")
}
