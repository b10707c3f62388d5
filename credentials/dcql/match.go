package dcql

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
)

// Candidate is one credential a wallet holds, or one presentation a
// verifier has verified, described for matching.
type Candidate struct {
	// Format is the credential's format.
	Format Format
	// VCT is an SD-JWT VC's type. If empty, Claims["vct"] is used.
	VCT string
	// Types are a W3C VC's types, compared as strings with type_values
	// (no JSON-LD expansion: a query naming an expanded IRI matches only
	// a credential that lists the same IRI). If nil, Claims["type"] is
	// used.
	Types []string
	// Doctype is an mdoc's doctype.
	Doctype string
	// Claims is the full claim set as JSON (encoding/json's decoding into
	// map[string]any): for an SD-JWT VC, the processed payload with every
	// disclosure the holder has; for a W3C VC, the credential itself (not
	// the presentation); for an mdoc, each namespace mapped to an object
	// of its data elements.
	Claims map[string]any
	// Authorities identify the credential's issuer for
	// trusted_authorities: for example {"openid_federation", trust
	// anchor} or {"aki", base64url key identifier}.
	Authorities []Authority
	// HolderBinding says the credential supports cryptographic holder
	// binding (an SD-JWT VC with cnf) or, for a verified presentation,
	// that the binding was checked.
	HolderBinding bool
}

// Authority is a trust anchor a credential's issuer is known under: a
// Trusted Authorities Query type and one value of it.
type Authority struct {
	Type  string
	Value string
}

// CredentialMatch is one candidate that satisfies one Credential Query.
type CredentialMatch struct {
	// Candidate is the candidate's index in the slice given to Match.
	Candidate int
	// ClaimSet is the index of the first claim_sets option the candidate
	// satisfies, or -1 if the query has no claim sets.
	ClaimSet int
	// Claims are the indexes, into the Credential Query's Claims, of the
	// claims requested from this candidate.
	Claims []int
	// Disclose lists the concrete path of every claim to disclose, in
	// query order, without repeats. Paths with nil components have been
	// expanded to the indexes of the elements that exist (and, with
	// values, match). It is empty when the query requests no claims: then
	// only what is always disclosed is presented.
	Disclose []Path
}

// SetResult says which options of one Credential Set Query can be met.
type SetResult struct {
	// Required is the set's required flag.
	Required bool
	// Satisfiable are the indexes of the options each of whose
	// Credential Queries has at least one match, in query order.
	Satisfiable []int
}

// Result is the outcome of matching a query against a wallet's
// credentials.
type Result struct {
	// Matches lists, for each Credential Query ID, the candidates that
	// satisfy it, in candidate order. Queries without a match are absent.
	Matches map[string][]CredentialMatch
	// Sets has one entry per Credential Set Query, in order; nil if the
	// query has none.
	Sets []SetResult
	// Satisfied says the query can be answered: every Credential Query
	// has a match (without credential sets), or every required set has a
	// satisfiable option.
	Satisfied bool
	// Selected are the IDs of the Credential Queries to answer, in query
	// order: every query without credential sets; otherwise the queries
	// of the first satisfiable option of each set, required or optional.
	// It is nil when the query is not satisfied, since then the wallet
	// must return nothing.
	Selected []string
}

// Match evaluates q against a wallet's credentials (OpenID4VP section
// 6.4): which candidates satisfy which Credential Query (format, meta,
// trusted authorities, holder binding, claims and claim sets, values), and
// whether and how the credential sets can be met. Candidates that do not
// fit a query, including those whose claims a path cannot be applied to,
// are simply not matches.
func (q *Query) Match(cands []Candidate) *Result {
	res := &Result{Matches: map[string][]CredentialMatch{}}
	for i := range q.Credentials {
		cq := &q.Credentials[i]
		for j := range cands {
			m, err := cq.match(&cands[j])
			if err != nil {
				continue
			}
			m.Candidate = j
			res.Matches[cq.ID] = append(res.Matches[cq.ID], m)
		}
	}
	has := func(id string) bool { return len(res.Matches[id]) > 0 }
	if len(q.CredentialSets) == 0 {
		res.Satisfied = true
		for _, cq := range q.Credentials {
			if !has(cq.ID) {
				res.Satisfied = false
			}
		}
		if res.Satisfied {
			for _, cq := range q.Credentials {
				res.Selected = append(res.Selected, cq.ID)
			}
		}
		return res
	}
	res.Satisfied = true
	chosen := map[string]bool{}
	for _, s := range q.CredentialSets {
		sr := SetResult{Required: s.Required}
		for k, opt := range s.Options {
			if !slices.ContainsFunc(opt, func(id string) bool { return !has(id) }) {
				sr.Satisfiable = append(sr.Satisfiable, k)
			}
		}
		if len(sr.Satisfiable) > 0 {
			for _, id := range s.Options[sr.Satisfiable[0]] {
				chosen[id] = true
			}
		} else if s.Required {
			res.Satisfied = false
		}
		res.Sets = append(res.Sets, sr)
	}
	if res.Satisfied {
		for _, cq := range q.Credentials {
			if chosen[cq.ID] {
				res.Selected = append(res.Selected, cq.ID)
			}
		}
	}
	return res
}

// CheckPresentation reports whether a verified presentation satisfies the
// Credential Query named id: c describes what the presentation disclosed
// (its processed claims, type and issuer) and HolderBinding whether its
// key binding was checked. The error wraps ErrResponseMismatch and says
// which check failed, without quoting claim values.
func (q *Query) CheckPresentation(id string, c Candidate) (*CredentialMatch, error) {
	cq := q.Credential(id)
	if cq == nil {
		return nil, fmt.Errorf("%w: no Credential Query with this id", ErrResponseMismatch)
	}
	m, err := cq.match(&c)
	if err != nil {
		return nil, fmt.Errorf("%w: credential query %s: %v", ErrResponseMismatch, cq.ID, err)
	}
	return &m, nil
}

// errNoValue reports a claim present with none of the requested values.
var errNoValue = errors.New("claim value is not one of the requested values")

// match checks one candidate against one Credential Query.
func (cq *CredentialQuery) match(c *Candidate) (CredentialMatch, error) {
	m := CredentialMatch{ClaimSet: -1}
	if c.Format != cq.Format {
		return m, errors.New("format differs")
	}
	if err := cq.matchMeta(c); err != nil {
		return m, err
	}
	if len(cq.TrustedAuthorities) > 0 && !cq.trusted(c) {
		return m, errors.New("issuer matches none of the trusted authorities")
	}
	if cq.RequireHolderBinding && !c.HolderBinding {
		return m, errors.New("cryptographic holder binding is required")
	}
	if len(cq.Claims) == 0 {
		return m, nil
	}
	sel := make([][]Selected, len(cq.Claims))
	errs := make([]error, len(cq.Claims))
	for i := range cq.Claims {
		sel[i], errs[i] = cq.selectClaim(i, c)
	}
	var chosen []int
	if len(cq.ClaimSets) == 0 {
		for i, err := range errs {
			if err != nil {
				return m, fmt.Errorf("claims[%d] %s: %w", i, cq.Claims[i].Path, err)
			}
			chosen = append(chosen, i)
		}
	} else {
		for k, set := range cq.ClaimSets {
			var ids []int
			ok := true
			for _, cid := range set {
				i := slices.IndexFunc(cq.Claims, func(cl ClaimQuery) bool { return cl.ID == cid })
				if i < 0 || errs[i] != nil {
					ok = false
					break
				}
				ids = append(ids, i)
			}
			if ok {
				m.ClaimSet = k
				chosen = ids
				break
			}
		}
		if m.ClaimSet < 0 {
			return m, errors.New("no claim_sets option is satisfied")
		}
	}
	seen := map[string]bool{}
	for _, i := range chosen {
		m.Claims = append(m.Claims, i)
		for _, s := range sel[i] {
			k := s.Path.String()
			if !seen[k] {
				seen[k] = true
				m.Disclose = append(m.Disclose, s.Path)
			}
		}
	}
	return m, nil
}

func (cq *CredentialQuery) matchMeta(c *Candidate) error {
	switch {
	case cq.Format == FormatSDJWTVC:
		vct := c.VCT
		if vct == "" {
			vct, _ = c.Claims["vct"].(string)
		}
		if !slices.Contains(cq.Meta.VCTValues, vct) {
			return errors.New("vct is not one of vct_values")
		}
	case cq.Format.isW3C():
		types := c.Types
		if types == nil {
			types = typesOf(c.Claims["type"])
		}
		for _, want := range cq.Meta.TypeValues {
			if !slices.ContainsFunc(want, func(t string) bool { return !slices.Contains(types, t) }) {
				return nil
			}
		}
		return errors.New("types match no type_values entry")
	case cq.Format == FormatMDoc:
		if c.Doctype != cq.Meta.DoctypeValue {
			return errors.New("doctype is not doctype_value")
		}
	}
	return nil
}

func typesOf(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return t
	}
	return nil
}

func (cq *CredentialQuery) trusted(c *Candidate) bool {
	for _, ta := range cq.TrustedAuthorities {
		for _, a := range c.Authorities {
			if a.Type == ta.Type && slices.Contains(ta.Values, a.Value) {
				return true
			}
		}
	}
	return false
}

// selectClaim applies claim i's path to the candidate and keeps the
// selected elements whose value is requested.
func (cq *CredentialQuery) selectClaim(i int, c *Candidate) ([]Selected, error) {
	cl := &cq.Claims[i]
	var sel []Selected
	var err error
	if cq.Format == FormatMDoc {
		sel, err = cl.Path.selectMdoc(c.Claims)
	} else {
		sel, err = cl.Path.Select(c.Claims)
	}
	if err != nil {
		return nil, err
	}
	if len(cl.Values) == 0 {
		return sel, nil
	}
	var kept []Selected
	for _, s := range sel {
		if slices.ContainsFunc(cl.Values, func(w any) bool { return ValueMatches(w, s.Value) }) {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		return nil, errNoValue
	}
	return kept, nil
}

// ValueMatches reports whether a claim value (as encoding/json decodes
// it) equals a requested value (a string, int64 or bool from
// ClaimQuery.Values) in type and value, as OpenID4VP section 6.3 asks: the
// string "1" does not match the integer 1. A JSON number matches an
// integer when it is numerically equal (so 1.0 matches 1).
func ValueMatches(want, got any) bool {
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		return ok && g == w
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	case int64:
		return intEquals(got, w)
	case int:
		return intEquals(got, int64(w))
	}
	return false
}

func intEquals(got any, w int64) bool {
	switch g := got.(type) {
	case int:
		return int64(g) == w
	case int64:
		return g == w
	case float64:
		return g == math.Trunc(g) && math.Abs(g) <= 1<<53 && int64(g) == w
	case json.Number:
		if n, ok := integer(g); ok {
			return n == w
		}
		f, ok := new(big.Float).SetString(string(g))
		if !ok || !f.IsInt() {
			return false
		}
		n, acc := f.Int64()
		return acc == big.Exact && n == w
	}
	return false
}
