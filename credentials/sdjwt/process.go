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
	seen   map[string]struct{}
	path   []any // where walk is, in the processed claims
	orig   []any // where walk is, in the issued structure
}

// process returns payload with every digest that has a Disclosure replaced
// by the claim, every other digest and _sd_alg removed. It fails if a digest
// appears twice, a Disclosure does not fit where its digest is, would
// overwrite a claim, or is not referenced at all.
func process(payload map[string]any, set *disclosureSet) (map[string]any, []*placed, error) {
	p := &processor{set: set, placed: make([]*placed, len(set.list)), seen: map[string]struct{}{}}
	out, err := p.walk(payload, -1, 0)
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
	if _, dup := p.seen[digest]; dup {
		return fail(ErrDisclosure, "digest %s appears more than once", digest)
	}
	p.seen[digest] = struct{}{}
	return nil
}

// walk processes v, found at p.path (p.orig in the issued structure).
func (p *processor) walk(v any, parent, depth int) (any, error) {
	if depth > maxProcessDepth {
		return nil, fail(ErrMalformed, "claims nested deeper than %d", maxProcessDepth)
	}
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		names := make([]string, 0, len(t))
		for k := range t {
			if k == sdKey || (depth == 0 && k == sdAlgClaim) {
				continue
			}
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			p.push(k, k)
			cv, err := p.walk(t[k], parent, depth+1)
			p.pop()
			if err != nil {
				return nil, err
			}
			out[k] = cv
		}
		sd, ok := t[sdKey]
		if !ok {
			return out, nil
		}
		digests, ok := sd.([]any)
		if !ok {
			return nil, fail(ErrMalformed, "_sd at %v is not an array", p.path)
		}
		for _, dv := range digests {
			dg, ok := dv.(string)
			if !ok {
				return nil, fail(ErrMalformed, "_sd at %v holds a non-string", p.path)
			}
			if err := p.see(dg); err != nil {
				return nil, err
			}
			i, ok := p.set.byDigest[dg]
			if !ok {
				continue // not disclosed, or a decoy
			}
			d := p.set.list[i]
			if !d.hasName {
				return nil, fail(ErrDisclosure, "array element disclosure %s is referenced from an _sd array at %v", dg, p.path)
			}
			if _, exists := out[d.name]; exists {
				return nil, fail(ErrDisclosure, "disclosure %s would overwrite claim %q at %v", dg, d.name, p.path)
			}
			p.push(d.name, d.name)
			p.place(i, parent)
			cv, err := p.walk(d.value, i, depth+1)
			p.pop()
			if err != nil {
				return nil, err
			}
			out[d.name] = cv
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(t))
		for j, e := range t {
			if m, ok := e.(map[string]any); ok && len(m) == 1 {
				if dv, ok := m[ellipsis]; ok {
					dg, ok := dv.(string)
					if !ok {
						return nil, fail(ErrMalformed, `"..." in the array at %v is not a string`, p.path)
					}
					if err := p.see(dg); err != nil {
						return nil, err
					}
					i, ok := p.set.byDigest[dg]
					if !ok {
						continue // not disclosed, or a decoy: the element goes
					}
					d := p.set.list[i]
					if d.hasName {
						return nil, fail(ErrDisclosure, "object member disclosure %s is referenced as an array element at %v", dg, p.path)
					}
					p.push(len(out), j)
					p.place(i, parent)
					cv, err := p.walk(d.value, i, depth+1)
					p.pop()
					if err != nil {
						return nil, err
					}
					out = append(out, cv)
					continue
				}
			}
			p.push(len(out), j)
			cv, err := p.walk(e, parent, depth+1)
			p.pop()
			if err != nil {
				return nil, err
			}
			out = append(out, cv)
		}
		return out, nil
	}
	return v, nil
}

func (p *processor) push(el, orig any) {
	p.path = append(p.path, el)
	p.orig = append(p.orig, orig)
}

func (p *processor) pop() {
	p.path = p.path[:len(p.path)-1]
	p.orig = p.orig[:len(p.orig)-1]
}

// place records that Disclosure i sits at the current path.
func (p *processor) place(i, parent int) {
	p.placed[i] = &placed{path: slices.Clone(p.path), orig: slices.Clone(p.orig), parent: parent}
}
