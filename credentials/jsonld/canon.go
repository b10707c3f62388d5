package jsonld

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// ErrTooComplex is returned by Canonicalize for a dataset whose blank nodes
// are so alike that telling them apart would take more work than any real
// credential needs (a "poison graph", RDFC-1.0 section 4.4.2).
var ErrTooComplex = errors.New("jsonld: blank nodes too alike to canonicalize within limits")

// Limits on the work RDFC-1.0 may do (the specification asks for one).
// Hash N-Degree Quads may run (non-unique blank nodes)³ times, but at least
// minDeep and at most maxDeep times; all its permutations together may visit
// maxPermutations orderings, of lists of at most maxPermuteList blank nodes.
// Credentials need a handful; the hardest cases of the test suite need a
// few hundred calls and a few thousand orderings.
const (
	minDeep         = 1 << 10
	maxDeep         = 1 << 16
	maxPermutations = 1 << 16
	maxPermuteList  = 8
)

// Canonicalize returns the canonical N-Quads of the dataset quads under
// RDFC-1.0 with SHA-256: blank nodes relabelled _:c14n0, _:c14n1, …, lines
// sorted in code point order, each ending in a newline. Duplicate quads
// count once. quads is not modified.
func Canonicalize(quads []Quad) ([]byte, error) {
	s := newCanonState(quads)
	if err := s.run(); err != nil {
		return nil, err
	}
	return s.serialize(), nil
}

type issuer struct {
	prefix string
	issued map[string]string
	order  []string
}

func newIssuer(prefix string) *issuer {
	return &issuer{prefix: prefix, issued: map[string]string{}}
}

func (is *issuer) issue(id string) string {
	if v, ok := is.issued[id]; ok {
		return v
	}
	v := is.prefix + strconv.Itoa(len(is.order))
	is.issued[id] = v
	is.order = append(is.order, id)
	return v
}

func (is *issuer) has(id string) bool { _, ok := is.issued[id]; return ok }

func (is *issuer) clone() *issuer {
	c := &issuer{prefix: is.prefix, issued: make(map[string]string, len(is.issued)), order: slices.Clone(is.order)}
	for k, v := range is.issued {
		c.issued[k] = v
	}
	return c
}

type canonState struct {
	quads       []Quad
	bnodeQuads  map[string][]int
	bnodes      []string // in first-seen order
	firstDegree map[string]string
	canonical   *issuer

	deepLeft  int
	permsLeft int
	buf       []byte
}

func newCanonState(in []Quad) *canonState {
	s := &canonState{
		bnodeQuads:  map[string][]int{},
		firstDegree: map[string]string{},
		canonical:   newIssuer("c14n"),
		permsLeft:   maxPermutations,
	}
	// A dataset is a set: drop exact duplicates.
	seen := make(map[Quad]struct{}, len(in))
	s.quads = make([]Quad, 0, len(in))
	for _, q := range in {
		if _, dup := seen[q]; dup {
			continue
		}
		seen[q] = struct{}{}
		s.quads = append(s.quads, q)
	}
	for i := range s.quads {
		q := &s.quads[i]
		for _, t := range [...]*Term{&q.Subject, &q.Object, &q.Graph} {
			if t.Kind != BlankNode {
				continue
			}
			list, ok := s.bnodeQuads[t.Value]
			if !ok {
				s.bnodes = append(s.bnodes, t.Value)
			}
			if len(list) > 0 && list[len(list)-1] == i {
				continue // same quad, same blank node twice
			}
			s.bnodeQuads[t.Value] = append(list, i)
		}
	}
	return s
}

func (s *canonState) run() error {
	// 4.4.3 steps 3–5: first-degree hashes; unique ones are named at once.
	byHash := map[string][]string{}
	for _, n := range s.bnodes {
		h := s.hashFirstDegree(n)
		byHash[h] = append(byHash[h], n)
	}
	hashes := make([]string, 0, len(byHash))
	for h := range byHash {
		hashes = append(hashes, h)
	}
	slices.Sort(hashes)
	var nonUnique [][]string
	count := 0
	for _, h := range hashes {
		if l := byHash[h]; len(l) > 1 {
			nonUnique = append(nonUnique, l)
			count += len(l)
			continue
		}
		s.canonical.issue(byHash[h][0])
	}
	s.deepLeft = min(max(count*count*count, minDeep), maxDeep)
	// Step 6: the rest, by N-degree hashing.
	for _, list := range nonUnique {
		type result struct {
			hash string
			is   *issuer
		}
		var paths []result
		for _, n := range list {
			if s.canonical.has(n) {
				continue
			}
			tmp := newIssuer("b")
			tmp.issue(n)
			h, is, err := s.hashNDegree(n, tmp)
			if err != nil {
				return err
			}
			paths = append(paths, result{h, is})
		}
		slices.SortStableFunc(paths, func(a, b result) int { return strings.Compare(a.hash, b.hash) })
		for _, p := range paths {
			for _, id := range p.is.order {
				s.canonical.issue(id)
			}
		}
	}
	return nil
}

func (s *canonState) serialize() []byte {
	lines := make([]string, 0, len(s.quads))
	for i := range s.quads {
		q := s.quads[i]
		for _, t := range [...]*Term{&q.Subject, &q.Object, &q.Graph} {
			if t.Kind == BlankNode {
				t.Value = s.canonical.issued[t.Value]
			}
		}
		s.buf = AppendNQuad(s.buf[:0], &q)
		lines = append(lines, string(s.buf))
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	out := make([]byte, 0, n)
	for _, l := range lines {
		out = append(out, l...)
	}
	return out
}

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// hashFirstDegree is RDFC-1.0 4.6.
func (s *canonState) hashFirstDegree(n string) string {
	if h, ok := s.firstDegree[n]; ok {
		return h
	}
	idx := s.bnodeQuads[n]
	lines := make([]string, 0, len(idx))
	for _, i := range idx {
		q := s.quads[i]
		for _, t := range [...]*Term{&q.Subject, &q.Object, &q.Graph} {
			if t.Kind == BlankNode {
				if t.Value == n {
					t.Value = "a"
				} else {
					t.Value = "z"
				}
			}
		}
		s.buf = AppendNQuad(s.buf[:0], &q)
		lines = append(lines, string(s.buf))
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	out := hex.EncodeToString(h.Sum(nil))
	s.firstDegree[n] = out
	return out
}

// hashRelated is RDFC-1.0 4.7.
func (s *canonState) hashRelated(related string, q *Quad, is *issuer, position byte) string {
	var b bytes.Buffer
	b.WriteByte(position)
	if position != 'g' {
		b.WriteByte('<')
		b.WriteString(q.Predicate.Value)
		b.WriteByte('>')
	}
	switch {
	case s.canonical.has(related):
		b.WriteString("_:" + s.canonical.issued[related])
	case is.has(related):
		b.WriteString("_:" + is.issued[related])
	default:
		b.WriteString(s.hashFirstDegree(related))
	}
	return hexSum(b.Bytes())
}

// hashNDegree is RDFC-1.0 4.8.
func (s *canonState) hashNDegree(id string, is *issuer) (string, *issuer, error) {
	if s.deepLeft <= 0 {
		return "", nil, ErrTooComplex
	}
	s.deepLeft--

	related := map[string][]string{}
	for _, i := range s.bnodeQuads[id] {
		q := &s.quads[i]
		for _, c := range [...]struct {
			t   *Term
			pos byte
		}{{&q.Subject, 's'}, {&q.Object, 'o'}, {&q.Graph, 'g'}} {
			if c.t.Kind != BlankNode || c.t.Value == id {
				continue
			}
			h := s.hashRelated(c.t.Value, q, is, c.pos)
			related[h] = append(related[h], c.t.Value)
		}
	}
	hashes := make([]string, 0, len(related))
	for h := range related {
		hashes = append(hashes, h)
	}
	slices.Sort(hashes)

	var data strings.Builder
	for _, h := range hashes {
		data.WriteString(h)
		list := related[h]
		if len(list) > maxPermuteList {
			return "", nil, ErrTooComplex
		}
		chosenPath := ""
		var chosenIssuer *issuer
		var err error
		permute(list, func(p []string) bool {
			if s.permsLeft--; s.permsLeft < 0 {
				err = ErrTooComplex
				return false
			}
			issuerCopy := is.clone()
			var path strings.Builder
			var recursion []string
			for _, r := range p {
				if s.canonical.has(r) {
					path.WriteString("_:" + s.canonical.issued[r])
				} else {
					if !issuerCopy.has(r) {
						recursion = append(recursion, r)
					}
					path.WriteString("_:" + issuerCopy.issue(r))
				}
				if chosenPath != "" && path.Len() >= len(chosenPath) && path.String() > chosenPath {
					return true // next permutation
				}
			}
			for _, r := range recursion {
				h, resIssuer, e := s.hashNDegree(r, issuerCopy)
				if e != nil {
					err = e
					return false
				}
				path.WriteString("_:" + issuerCopy.issue(r))
				path.WriteString("<" + h + ">")
				issuerCopy = resIssuer
				if chosenPath != "" && path.Len() >= len(chosenPath) && path.String() > chosenPath {
					return true
				}
			}
			if chosenPath == "" || path.String() < chosenPath {
				chosenPath = path.String()
				chosenIssuer = issuerCopy
			}
			return true
		})
		if err != nil {
			return "", nil, err
		}
		data.WriteString(chosenPath)
		is = chosenIssuer
	}
	return hexSum([]byte(data.String())), is, nil
}

// permute calls f with every permutation of list (Heap's algorithm) until
// f returns false. The order does not matter: RDFC-1.0 keeps the least
// path whatever the order the permutations come in.
func permute(list []string, f func([]string) bool) {
	a := slices.Clone(list)
	c := make([]int, len(a))
	if !f(a) {
		return
	}
	for i := 0; i < len(a); {
		if c[i] < i {
			if i%2 == 0 {
				a[0], a[i] = a[i], a[0]
			} else {
				a[c[i]], a[i] = a[i], a[c[i]]
			}
			if !f(a) {
				return
			}
			c[i]++
			i = 0
		} else {
			c[i] = 0
			i++
		}
	}
}
