package sdjwt

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/medid/medid/internal/keys"
)

// DefaultDecoys is the default for IssueOptions.Decoys.
const DefaultDecoys = 4

// Policy says which claims of a credential are selectively disclosable.
//
// By default every top-level claim is, except those in AlwaysVisible. Paths
// adds claims below the top level (or, with OnlyPaths, replaces the default):
//
//	Policy{Paths: [][]any{
//		{"address", "locality"}, // a member of the (disclosable) address
//		{"identifiers", nil},    // every element of the identifiers array
//		{"allergies", 0},        // the first element only
//	}}
//
// A claim that is disclosable and also holds disclosable members or elements
// gets recursive Disclosures (RFC 9901 section 6.3): the inner ones can be
// revealed only together with the outer one. An always-visible object with
// disclosable members is a "structured" SD-JWT (section 6.2).
type Policy struct {
	// Paths lists selectively disclosable claims by claim path: a string
	// names an object member, an int an array position and nil every element
	// of an array. Each path must lead to an existing claim.
	Paths [][]any
	// AlwaysVisible names top-level claims kept in the clear. A path of
	// length one in Paths naming one of them is an error; longer paths below
	// them are allowed.
	AlwaysVisible []string
	// OnlyPaths makes Paths the complete list: top-level claims are then
	// disclosable only if Paths names them.
	OnlyPaths bool
}

// IssueOptions configure Issue.
type IssueOptions struct {
	// Key signs the Issuer-signed JWT (ES256 or EdDSA). Required.
	Key *keys.PrivateKey
	// Typ is the JWS "typ" header, e.g. TypVC. Empty omits it.
	Typ string
	// KeyID is the JWS "kid" header. Empty omits it.
	KeyID string
	// Decoys bounds the number of decoy digests added to each _sd array:
	// each gets between 1 and Decoys, at random. Zero means DefaultDecoys;
	// a negative value adds none.
	Decoys int
	// Rand is the source of salts and decoys; nil means crypto/rand. Tests
	// may fix it; production code should leave it nil.
	Rand io.Reader
}

// Issued is a freshly issued SD-JWT: the Issuer-signed JWT and every
// Disclosure. It holds a credential: do not log it.
type Issued struct {
	JWT         string
	Disclosures []Disclosure
}

// Compact returns the SD-JWT in compact form, <jwt>~<disclosure>~…~, as the
// Holder receives it.
func (i *Issued) Compact() string {
	var b strings.Builder
	n := len(i.JWT) + 1
	for _, d := range i.Disclosures {
		n += len(d.encoded) + 1
	}
	b.Grow(n)
	b.WriteString(i.JWT)
	b.WriteByte('~')
	for _, d := range i.Disclosures {
		b.WriteString(d.encoded)
		b.WriteByte('~')
	}
	return b.String()
}

// Issue makes an SD-JWT of claims: the claims policy makes disclosable are
// replaced by digests (with decoys, sorted), "_sd_alg": "sha-256" is added,
// and the payload is signed with opts.Key. Claims must marshal to a JSON
// object and must not use the reserved names "_sd", "_sd_alg" or "...".
func Issue(claims map[string]any, policy Policy, opts IssueOptions) (*Issued, error) {
	if opts.Key == nil || opts.Key.Signer() == nil {
		return nil, errors.New("sdjwt: IssueOptions.Key is required")
	}
	if opts.Rand == nil {
		// Salts and decoys are drawn in small pieces: buffer them.
		opts.Rand = bufio.NewReaderSize(rand.Reader, 512)
	}
	if opts.Decoys == 0 {
		opts.Decoys = DefaultDecoys
	}
	nv, err := normalize(claims)
	if err != nil {
		return nil, fmt.Errorf("sdjwt: claims: %w", err)
	}
	payload, ok := nv.(map[string]any)
	if !ok {
		return nil, errors.New("sdjwt: claims are not a JSON object")
	}
	root, err := buildPolicy(payload, policy)
	if err != nil {
		return nil, err
	}
	is := &issuer{opts: opts, disclosures: make([]Disclosure, 0, 32)}
	out, err := is.transform(payload, root, true)
	if err != nil {
		return nil, err
	}
	obj := out.(map[string]any)
	obj[sdAlgClaim] = SHA256
	body, err := appendJSON(make([]byte, 0, 2048), obj)
	if err != nil {
		return nil, fmt.Errorf("sdjwt: payload: %w", err)
	}
	jwt, err := sign(opts.Key, opts.Typ, opts.KeyID, body)
	if err != nil {
		return nil, err
	}
	return &Issued{JWT: jwt, Disclosures: is.disclosures}, nil
}

// policyNode is one level of a Policy, laid over the claims.
type policyNode struct {
	disclosable bool
	members     map[string]*policyNode
	elements    map[int]*policyNode
	every       *policyNode // for every array element
}

func (n *policyNode) member(k string) *policyNode {
	if n.members == nil {
		n.members = map[string]*policyNode{}
	}
	c := n.members[k]
	if c == nil {
		c = &policyNode{}
		n.members[k] = c
	}
	return c
}

func (n *policyNode) element(i int) *policyNode {
	if n.elements == nil {
		n.elements = map[int]*policyNode{}
	}
	c := n.elements[i]
	if c == nil {
		c = &policyNode{}
		n.elements[i] = c
	}
	return c
}

// buildPolicy checks policy against claims and returns its tree.
func buildPolicy(claims map[string]any, p Policy) (*policyNode, error) {
	root := &policyNode{}
	visible := map[string]bool{}
	for _, k := range p.AlwaysVisible {
		visible[k] = true
	}
	if !p.OnlyPaths {
		for k := range claims {
			if !visible[k] {
				root.member(k).disclosable = true
			}
		}
	}
	for _, path := range p.Paths {
		if len(path) == 0 {
			return nil, errors.New("sdjwt: policy has an empty claim path")
		}
		if k, ok := path[0].(string); ok && len(path) == 1 && visible[k] {
			return nil, fmt.Errorf("sdjwt: policy path %v names always-visible claim %q", path, k)
		}
		if err := checkPath(claims, path, 0); err != nil {
			return nil, err
		}
		n := root
		for _, el := range path {
			switch e := el.(type) {
			case string:
				n = n.member(e)
			case int:
				n = n.element(e)
			default: // nil; checkPath allowed nothing else
				if n.every == nil {
					n.every = &policyNode{}
				}
				n = n.every
			}
		}
		n.disclosable = true
	}
	return root, nil
}

// checkPath checks that path[i:] leads to existing claims inside cur.
func checkPath(cur any, path []any, i int) error {
	if i == len(path) {
		return nil
	}
	switch e := path[i].(type) {
	case string:
		obj, ok := cur.(map[string]any)
		if !ok {
			return fmt.Errorf("sdjwt: policy path %v: %v is not an object", path, path[:i])
		}
		v, ok := obj[e]
		if !ok {
			return fmt.Errorf("sdjwt: policy path %v: no claim at %v", path, path[:i+1])
		}
		return checkPath(v, path, i+1)
	case int:
		arr, ok := cur.([]any)
		if !ok {
			return fmt.Errorf("sdjwt: policy path %v: %v is not an array", path, path[:i])
		}
		if e < 0 || e >= len(arr) {
			return fmt.Errorf("sdjwt: policy path %v: no element at %v", path, path[:i+1])
		}
		return checkPath(arr[e], path, i+1)
	case nil:
		arr, ok := cur.([]any)
		if !ok {
			return fmt.Errorf("sdjwt: policy path %v: %v is not an array", path, path[:i])
		}
		for _, el := range arr {
			if err := checkPath(el, path, i+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("sdjwt: policy path %v: element %v (%T) is not a string, int or nil", path, path[i], path[i])
}

// issuer accumulates Disclosures while transforming the claims.
type issuer struct {
	opts        IssueOptions
	disclosures []Disclosure
	scratch     scratch
}

// transform returns v with the claims n makes disclosable replaced by
// digests, innermost first. It refuses the names RFC 9901 reserves.
func (is *issuer) transform(v any, n *policyNode, top bool) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t)+1)
		var digests []string
		names := make([]string, 0, len(t))
		for k := range t {
			if k == sdKey || k == ellipsis || (top && k == sdAlgClaim) {
				return nil, fmt.Errorf("sdjwt: %q is reserved and cannot be a claim name", k)
			}
			names = append(names, k)
		}
		slices.Sort(names) // so that a fixed Rand gives a fixed result
		for _, k := range names {
			var child *policyNode
			if n != nil {
				child = n.members[k]
			}
			cv, err := is.transform(t[k], child, false)
			if err != nil {
				return nil, err
			}
			if child == nil || !child.disclosable {
				out[k] = cv
				continue
			}
			d, err := is.disclose(k, true, cv)
			if err != nil {
				return nil, err
			}
			digests = append(digests, d)
		}
		if len(digests) > 0 {
			decoys, err := is.decoys()
			if err != nil {
				return nil, err
			}
			digests = append(digests, decoys...)
			slices.Sort(digests) // RFC 9901 section 4.2.4.1: hide the order
			sd := make([]any, len(digests))
			for i, d := range digests {
				sd[i] = d
			}
			out[sdKey] = sd
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			var child *policyNode
			if n != nil {
				child = n.elements[i]
				if child == nil {
					child = n.every
				} else if n.every != nil {
					child = mergeNodes(child, n.every)
				}
			}
			cv, err := is.transform(e, child, false)
			if err != nil {
				return nil, err
			}
			if child == nil || !child.disclosable {
				out[i] = cv
				continue
			}
			d, err := is.disclose("", false, cv)
			if err != nil {
				return nil, err
			}
			out[i] = map[string]any{ellipsis: d}
		}
		return out, nil
	}
	return v, nil
}

// mergeNodes combines the policy for one array position with the policy
// for every element.
func mergeNodes(a, b *policyNode) *policyNode {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	m := &policyNode{disclosable: a.disclosable || b.disclosable, every: mergeNodes(a.every, b.every)}
	for k, c := range a.members {
		m.member(k)
		m.members[k] = mergeNodes(c, b.members[k])
	}
	for k, c := range b.members {
		if _, done := m.members[k]; !done {
			m.member(k)
			m.members[k] = c
		}
	}
	for i, c := range a.elements {
		m.element(i)
		m.elements[i] = mergeNodes(c, b.elements[i])
	}
	for i, c := range b.elements {
		if _, done := m.elements[i]; !done {
			m.element(i)
			m.elements[i] = c
		}
	}
	return m
}

// disclose makes the Disclosure of an already transformed value and returns
// its digest.
func (is *issuer) disclose(name string, hasName bool, v any) (string, error) {
	salt, err := newSalt(is.opts.Rand)
	if err != nil {
		return "", err
	}
	d, err := encodeDisclosure(&is.scratch, salt, name, hasName, v, nil)
	if err != nil {
		return "", err
	}
	is.disclosures = append(is.disclosures, d)
	return d.digest, nil
}

// decoys returns between 1 and opts.Decoys decoy digests.
func (is *issuer) decoys() ([]string, error) {
	if is.opts.Decoys < 0 {
		return nil, nil
	}
	var b [1]byte
	if _, err := io.ReadFull(is.opts.Rand, b[:]); err != nil {
		return nil, fmt.Errorf("sdjwt: decoy count: %w", err)
	}
	n := 1 + int(b[0])%is.opts.Decoys
	out := make([]string, n)
	for i := range out {
		d, err := newDecoy(is.opts.Rand)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}
