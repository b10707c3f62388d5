package sdjwt

import (
	"slices"
	"strings"
)

// maxProcessDepth bounds the nesting of the processed claims, counting
// levels reached through Disclosures.
const maxProcessDepth = 4 * maxDepth

// disclosureSet holds the Disclosures of an SD-JWT, indexed by digest.
type disclosureSet struct {
	list     []Disclosure
	byDigest map[string]int
}

// decodeDisclosures decodes the encoded Disclosures of an SD-JWT, refusing
// malformed and repeated ones.
func decodeDisclosures(encoded []string) (*disclosureSet, error) {
	s := &disclosureSet{list: make([]Disclosure, 0, len(encoded)), byDigest: make(map[string]int, len(encoded))}
	for i, e := range encoded {
		if e == "" {
			return nil, fail(ErrMalformed, "empty disclosure at position %d (\"~~\")", i+1)
		}
		d, err := DecodeDisclosure(e)
		if err != nil {
			return nil, fail(ErrDisclosure, "disclosure %d: %s", i+1, strings.TrimPrefix(err.Error(), ErrDisclosure.Error()+": "))
		}
		if _, dup := s.byDigest[d.digest]; dup {
			return nil, fail(ErrDisclosure, "disclosure %s is sent twice", d.digest)
		}
		s.byDigest[d.digest] = len(s.list)
		s.list = append(s.list, d)
	}
	return s, nil
}

// placed is where a Disclosure sits in the processed claims.
type placed struct {
	path   []any // in the processed claims (array positions after removals)
	orig   []any // in the Issuer's structure (array positions as issued)
	parent int   // index of the Disclosure that references it; -1 for the payload
}

// processor replaces digests by the disclosed claims (RFC 9901 section
// 7.1, steps 3 to 5) and records where each Disclosure went.
type processor struct {
	set    *disclosureSet
	placed []*placed // by index in set.list; nil while unused
	slots  []placed  // backing store of placed
	seen   seenSet
	path   []step // where walk is

	seenBuf [16]string
	pathBuf [8]step
}

// step is one element of a claim path, in the processed claims (name or
// el) and in the issued structure (name or orig).
type step struct {
	name    string
	el      int
	orig    int
	isIndex bool
}

// seenSet is a set of digests: a list while it is small, then a map.
type seenSet struct {
	list []string
	m    map[string]struct{}
}

// add adds digest, reporting false if it was there already.
func (s *seenSet) add(digest string) bool {
	if s.m == nil {
		if slices.Contains(s.list, digest) {
			return false
		}
		if len(s.list) < 32 {
			s.list = append(s.list, digest)
			return true
		}
		s.m = make(map[string]struct{}, 2*len(s.list))
		for _, d := range s.list {
			s.m[d] = struct{}{}
		}
	}
	if _, dup := s.m[digest]; dup {
		return false
	}
	s.m[digest] = struct{}{}
	return true
}

// process returns payload with every digest that has a Disclosure replaced
// by the claim, every other digest and _sd_alg removed. It fails if a digest
// appears twice, a Disclosure does not fit where its digest is, would
// overwrite a claim, or is not referenced at all. Parts of payload and of
// the Disclosures' values that hold no digest are shared with the result,
// not copied; neither is modified.
func process(payload map[string]any, set *disclosureSet) (map[string]any, []*placed, error) {
	p := &processor{set: set, placed: make([]*placed, len(set.list)), slots: make([]placed, len(set.list))}
	p.seen.list, p.path = p.seenBuf[:0], p.pathBuf[:0]
	out, _, err := p.walk(payload, -1, 0)
	if err != nil {
		return nil, nil, err
	}
	for i, pl := range p.placed {
		if pl == nil {
			return nil, nil, fail(ErrDisclosure, "disclosure %s is not referenced by the SD-JWT", set.list[i].digest)
		}
	}
	return out.(map[string]any), p.placed, nil
}

func (p *processor) see(digest string) error {
	if !p.seen.add(digest) {
		return fail(ErrDisclosure, "digest %s appears more than once", digest)
	}
	return nil
}

// walk processes v, found at p.path. It returns v itself, and changed
// false, when nothing in it changes.
func (p *processor) walk(v any, parent, depth int) (out any, changed bool, err error) {
	if depth > maxProcessDepth {
		return nil, false, fail(ErrMalformed, "claims nested deeper than %d", maxProcessDepth)
	}
	switch t := v.(type) {
	case map[string]any:
		sd, hasSD := t[sdKey]
		var out map[string]any // made at the first change
		if _, alg := t[sdAlgClaim]; hasSD || (depth == 0 && alg) {
			out = make(map[string]any, len(t))
		}
		var buf [16]string
		names := buf[:0]
		for k := range t {
			if k == sdKey || (depth == 0 && k == sdAlgClaim) {
				continue
			}
			names = append(names, k)
		}
		slices.Sort(names)
		for j, k := range names {
			p.push(step{name: k})
			cv, changed, err := p.walk(t[k], parent, depth+1)
			p.pop()
			if err != nil {
				return nil, false, err
			}
			if out == nil && changed {
				out = make(map[string]any, len(t))
				for _, k := range names[:j] {
					out[k] = t[k]
				}
			}
			if out != nil {
				out[k] = cv
			}
		}
		if !hasSD {
			if out == nil {
				return t, false, nil
			}
			return out, true, nil
		}
		digests, ok := sd.([]any)
		if !ok {
			return nil, false, fail(ErrMalformed, "_sd at %v is not an array", p.pathValue())
		}
		for _, dv := range digests {
			dg, ok := dv.(string)
			if !ok {
				return nil, false, fail(ErrMalformed, "_sd at %v holds a non-string", p.pathValue())
			}
			if err := p.see(dg); err != nil {
				return nil, false, err
			}
			i, ok := p.set.byDigest[dg]
			if !ok {
				continue // not disclosed, or a decoy
			}
			d := p.set.list[i]
			if !d.hasName {
				return nil, false, fail(ErrDisclosure, "array element disclosure %s is referenced from an _sd array at %v", dg, p.pathValue())
			}
			if _, exists := out[d.name]; exists {
				return nil, false, fail(ErrDisclosure, "disclosure %s would overwrite claim %q at %v", dg, d.name, p.pathValue())
			}
			p.push(step{name: d.name})
			p.place(i, parent)
			cv, _, err := p.walk(d.value, i, depth+1)
			p.pop()
			if err != nil {
				return nil, false, err
			}
			out[d.name] = cv
		}
		return out, true, nil
	case []any:
		var out []any // made at the first change
		for j, e := range t {
			if m, ok := e.(map[string]any); ok && len(m) == 1 {
				if dv, ok := m[ellipsis]; ok {
					if out == nil {
						out = make([]any, j, len(t))
						copy(out, t[:j])
					}
					dg, ok := dv.(string)
					if !ok {
						return nil, false, fail(ErrMalformed, `"..." in the array at %v is not a string`, p.pathValue())
					}
					if err := p.see(dg); err != nil {
						return nil, false, err
					}
					i, ok := p.set.byDigest[dg]
					if !ok {
						continue // not disclosed, or a decoy: the element goes
					}
					d := p.set.list[i]
					if d.hasName {
						return nil, false, fail(ErrDisclosure, "object member disclosure %s is referenced as an array element at %v", dg, p.pathValue())
					}
					p.push(step{el: len(out), orig: j, isIndex: true})
					p.place(i, parent)
					cv, _, err := p.walk(d.value, i, depth+1)
					p.pop()
					if err != nil {
						return nil, false, err
					}
					out = append(out, cv)
					continue
				}
			}
			el := j
			if out != nil {
				el = len(out)
			}
			p.push(step{el: el, orig: j, isIndex: true})
			cv, changed, err := p.walk(e, parent, depth+1)
			p.pop()
			if err != nil {
				return nil, false, err
			}
			if out == nil && changed {
				out = make([]any, j, len(t))
				copy(out, t[:j])
			}
			if out != nil {
				out = append(out, cv)
			}
		}
		if out == nil {
			return t, false, nil
		}
		return out, true, nil
	}
	return v, false, nil
}

func (p *processor) push(s step) { p.path = append(p.path, s) }

func (p *processor) pop() { p.path = p.path[:len(p.path)-1] }

// pathValue returns the current path in the processed claims, for a
// message.
func (p *processor) pathValue() []any {
	out := make([]any, len(p.path))
	for i, s := range p.path {
		if s.isIndex {
			out[i] = s.el
		} else {
			out[i] = s.name
		}
	}
	return out
}

// place records that Disclosure i sits at the current path.
func (p *processor) place(i, parent int) {
	both := make([]any, 2*len(p.path))
	path, orig := both[:len(p.path):len(p.path)], both[len(p.path):]
	for j, s := range p.path {
		if s.isIndex {
			path[j], orig[j] = s.el, s.orig
		} else {
			path[j] = s.name
			orig[j] = path[j]
		}
	}
	p.slots[i] = placed{path: path, orig: orig, parent: parent}
	p.placed[i] = &p.slots[i]
}
