package dcql

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on the size of a query. They are far above what any real query
// needs and keep a hostile one from making parsing or matching expensive.
const (
	// MaxQueryLength is the longest query Parse accepts, in bytes.
	MaxQueryLength = 64 << 10
	// MaxItems is the most elements any array of a query may have
	// (credentials, claims, values, options, ...).
	MaxItems = 128
	// MaxIDLength is the longest identifier accepted, in bytes.
	MaxIDLength = 128
	// MaxStringLength is the longest other string accepted (a vct, a
	// type, a value), in bytes.
	MaxStringLength = 2048
)

// Format is a Credential Format Identifier (OpenID4VP appendix B).
type Format string

// The formats OpenID4VP 1.0 defines. Parse refuses any other.
const (
	// FormatSDJWTVC is an IETF SD-JWT VC.
	FormatSDJWTVC Format = "dc+sd-jwt"
	// FormatJWTVCJSON is a W3C VC secured as a JWT, without JSON-LD.
	FormatJWTVCJSON Format = "jwt_vc_json"
	// FormatLDPVC is a W3C VC secured with Data Integrity (JSON-LD).
	FormatLDPVC Format = "ldp_vc"
	// FormatMDoc is an ISO/IEC 18013-5 mdoc.
	FormatMDoc Format = "mso_mdoc"
)

var formats = []Format{FormatSDJWTVC, FormatJWTVCJSON, FormatLDPVC, FormatMDoc}

// isW3C reports whether f is a W3C VC format, whose meta is type_values.
func (f Format) isW3C() bool { return f == FormatJWTVCJSON || f == FormatLDPVC }

// StringPresentation reports whether presentations of format f are JSON
// strings in a vp_token (SD-JWTs, JWTs and base64url mdoc
// DeviceResponses); ldp_vc presentations are JSON objects.
func (f Format) StringPresentation() bool { return f != FormatLDPVC }

// Query is a DCQL query that Parse has checked. Build queries by parsing
// JSON (or with the templates) rather than by filling the struct: only a
// parsed Query is known to be valid, and the methods assume one.
type Query struct {
	// Credentials are the Credential Queries (at least one).
	Credentials []CredentialQuery
	// CredentialSets are the Credential Set Queries, or nil: then every
	// Credential Query is requested.
	CredentialSets []CredentialSetQuery
}

// CredentialQuery requests presentations of one kind of credential
// (OpenID4VP section 6.1).
type CredentialQuery struct {
	// ID names the query in credential_sets and in the vp_token.
	ID string
	// Format is the requested credential format.
	Format Format
	// Multiple says the wallet may return more than one presentation.
	Multiple bool
	// Meta constrains the credential's type.
	Meta Meta
	// TrustedAuthorities, if any, are the issuer trust anchors accepted:
	// a credential must match one value of one of them.
	TrustedAuthorities []TrustedAuthority
	// RequireHolderBinding is require_cryptographic_holder_binding; true
	// unless the query says false.
	RequireHolderBinding bool
	// Claims are the requested claims; nil requests only what is always
	// disclosed.
	Claims []ClaimQuery
	// ClaimSets, if any, are the acceptable combinations of Claims, by
	// claim ID, most preferred first.
	ClaimSets [][]string
}

// Meta is the format-specific meta member of a Credential Query. Exactly
// the member of the query's format is set.
type Meta struct {
	// VCTValues are the accepted SD-JWT VC types (dc+sd-jwt).
	VCTValues []string
	// TypeValues are the accepted sets of W3C VC types (jwt_vc_json,
	// ldp_vc): a credential matches if its types include every type of
	// one set.
	TypeValues [][]string
	// DoctypeValue is the accepted mdoc doctype (mso_mdoc).
	DoctypeValue string
}

// TrustedAuthority is a Trusted Authorities Query (OpenID4VP section
// 6.1.1): a type such as "aki", "etsi_tl" or "openid_federation", and the
// accepted values of that type.
type TrustedAuthority struct {
	Type   string
	Values []string
}

// The Trusted Authorities Query types OpenID4VP 1.0 defines. Parse
// accepts any other type too, since other specifications may define more.
const (
	AuthorityKeyIdentifier = "aki"
	AuthorityETSITrustList = "etsi_tl"
	AuthorityOpenIDFed     = "openid_federation"
)

// ClaimQuery requests one claim (OpenID4VP section 6.3).
type ClaimQuery struct {
	// ID names the claim in ClaimSets; required when there are claim
	// sets.
	ID string
	// Path points to the claim.
	Path Path
	// Values, if any, are the accepted values: each a string, an int64
	// or a bool. A claim whose value is none of them counts as absent.
	Values []any
	// IntentToRetain is the mdoc-only intent_to_retain, or nil.
	IntentToRetain *bool
}

// CredentialSetQuery constrains which Credential Queries must be answered
// together (OpenID4VP section 6.2).
type CredentialSetQuery struct {
	// Options are the acceptable combinations of Credential Query IDs;
	// answering every query of one option satisfies the set.
	Options [][]string
	// Required says the set must be satisfied; true unless the query says
	// false.
	Required bool
}

// Credential returns the Credential Query named id, or nil.
func (q *Query) Credential(id string) *CredentialQuery {
	for i := range q.Credentials {
		if q.Credentials[i].ID == id {
			return &q.Credentials[i]
		}
	}
	return nil
}

// ClaimPaths returns the paths of every claim the Credential Query
// requests, in query order. With claim sets, that is every claim any
// option may ask for.
func (c *CredentialQuery) ClaimPaths() []Path {
	out := make([]Path, len(c.Claims))
	for i, cl := range c.Claims {
		out[i] = slices.Clone(cl.Path)
	}
	return out
}

// IsValidID reports whether s is a valid Credential Query or claim
// identifier: non-empty, at most MaxIDLength bytes of ASCII letters,
// digits, '_' and '-'.
func IsValidID(s string) bool {
	if s == "" || len(s) > MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Parse parses and checks a DCQL query. Errors wrap ErrInvalidQuery and
// are *Error values listing every problem found.
func Parse(data []byte) (*Query, error) {
	if len(data) > MaxQueryLength {
		return nil, &Error{Kind: ErrInvalidQuery, Problems: []Problem{{"", fmt.Sprintf("longer than %d bytes", MaxQueryLength)}}}
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, &Error{Kind: ErrInvalidQuery, Problems: []Problem{{"", "not valid JSON: " + err.Error()}}}
	}
	var c collector
	q := parseQuery(&c, v)
	if err := c.err(ErrInvalidQuery); err != nil {
		return nil, err
	}
	return q, nil
}

// UnmarshalJSON implements json.Unmarshaler with Parse, so a Query can be
// a member of a larger request.
func (q *Query) UnmarshalJSON(data []byte) error {
	p, err := Parse(data)
	if err != nil {
		return err
	}
	*q = *p
	return nil
}

func parseQuery(c *collector, v any) *Query {
	obj, ok := v.(map[string]any)
	if !ok {
		c.add("", "must be a JSON object")
		return nil
	}
	q := &Query{}
	creds, ok := array(c, obj, "credentials", "", true)
	ids := map[string]bool{}
	if ok {
		for i, cv := range creds {
			cq := parseCredential(c, cv, idx("credentials", i))
			if cq == nil {
				continue
			}
			if ids[cq.ID] {
				c.add(idx("credentials", i)+".id", "duplicate Credential Query id")
			}
			ids[cq.ID] = true
			q.Credentials = append(q.Credentials, *cq)
		}
	}
	sets, ok := array(c, obj, "credential_sets", "", false)
	if ok {
		for i, sv := range sets {
			s := parseCredentialSet(c, sv, idx("credential_sets", i), ids)
			if s != nil {
				q.CredentialSets = append(q.CredentialSets, *s)
			}
		}
	}
	return q
}

func parseCredential(c *collector, v any, path string) *CredentialQuery {
	obj, ok := v.(map[string]any)
	if !ok {
		c.add(path, "must be an object")
		return nil
	}
	cq := &CredentialQuery{RequireHolderBinding: true}
	cq.ID, _ = ident(c, obj, "id", path, true)
	if f, ok := str(c, obj, "format", path, true); ok {
		cq.Format = Format(f)
		if !slices.Contains(formats, cq.Format) {
			hint := ""
			if f == "vc+sd-jwt" {
				hint = ` (SD-JWT VCs are "dc+sd-jwt" in OpenID4VP 1.0)`
			}
			c.add(member(path, "format"), "unsupported format (want dc+sd-jwt, jwt_vc_json, ldp_vc or mso_mdoc)"+hint)
			cq.Format = ""
		}
	}
	cq.Multiple, _ = boolean(c, obj, "multiple", path)
	if b, ok := boolean(c, obj, "require_cryptographic_holder_binding", path); ok {
		cq.RequireHolderBinding = b
	}
	parseMeta(c, obj, path, cq)
	if tas, ok := array(c, obj, "trusted_authorities", path, false); ok {
		for i, tv := range tas {
			p := idx(member(path, "trusted_authorities"), i)
			to, ok := tv.(map[string]any)
			if !ok {
				c.add(p, "must be an object")
				continue
			}
			var ta TrustedAuthority
			ta.Type, _ = str(c, to, "type", p, true)
			ta.Values, _ = stringList(c, to, "values", p, true)
			cq.TrustedAuthorities = append(cq.TrustedAuthorities, ta)
		}
	}
	claimIDs := map[string]bool{}
	if cls, ok := array(c, obj, "claims", path, false); ok {
		_, hasSets := obj["claim_sets"]
		for i, clv := range cls {
			p := idx(member(path, "claims"), i)
			cl := parseClaim(c, clv, p, cq.Format, hasSets)
			if cl == nil {
				continue
			}
			if cl.ID != "" {
				if claimIDs[cl.ID] {
					c.add(p+".id", "duplicate claim id in this Credential Query")
				}
				claimIDs[cl.ID] = true
			}
			for _, prev := range cq.Claims {
				if prev.Path.Equal(cl.Path) {
					c.add(p+".path", "the same claim is requested twice in this Credential Query")
					break
				}
			}
			cq.Claims = append(cq.Claims, *cl)
		}
	}
	if sets, ok := array(c, obj, "claim_sets", path, false); ok {
		if _, has := obj["claims"]; !has {
			c.add(member(path, "claim_sets"), "not allowed without claims")
		}
		for i, sv := range sets {
			p := idx(member(path, "claim_sets"), i)
			set, ok := idList(c, sv, p, claimIDs, "claim id")
			if ok {
				cq.ClaimSets = append(cq.ClaimSets, set)
			}
		}
	}
	return cq
}

func parseMeta(c *collector, obj map[string]any, path string, cq *CredentialQuery) {
	mv, present := obj["meta"]
	mp := member(path, "meta")
	if !present {
		c.add(mp, "required (an object; {} for no constraints where the format allows it)")
		return
	}
	meta, ok := mv.(map[string]any)
	if !ok {
		c.add(mp, "must be an object")
		return
	}
	// Each format-specific member is required for its format and
	// misplaced on any other.
	own := map[Format]string{FormatSDJWTVC: "vct_values", FormatJWTVCJSON: "type_values", FormatLDPVC: "type_values", FormatMDoc: "doctype_value"}
	for _, name := range []string{"vct_values", "type_values", "doctype_value"} {
		if _, has := meta[name]; has && cq.Format != "" && own[cq.Format] != name {
			c.add(member(mp, name), "not defined for format "+string(cq.Format))
		}
	}
	switch {
	case cq.Format == FormatSDJWTVC:
		cq.Meta.VCTValues, _ = stringList(c, meta, "vct_values", mp, true)
	case cq.Format.isW3C():
		sets, ok := array(c, meta, "type_values", mp, true)
		if !ok {
			return
		}
		for i, sv := range sets {
			p := idx(member(mp, "type_values"), i)
			ts, ok := stringArray(c, sv, p)
			if ok {
				cq.Meta.TypeValues = append(cq.Meta.TypeValues, ts)
			}
		}
	case cq.Format == FormatMDoc:
		cq.Meta.DoctypeValue, _ = str(c, meta, "doctype_value", mp, true)
	}
}

func parseClaim(c *collector, v any, path string, f Format, hasSets bool) *ClaimQuery {
	obj, ok := v.(map[string]any)
	if !ok {
		c.add(path, "must be an object")
		return nil
	}
	cl := &ClaimQuery{}
	cl.ID, _ = ident(c, obj, "id", path, hasSets)
	pv, ok := obj["path"]
	if !ok {
		c.add(member(path, "path"), "required")
		return nil
	}
	p, reason, at := parsePath(pv)
	if reason != "" {
		if at >= 0 {
			c.add(idx(member(path, "path"), at), reason)
		} else {
			c.add(member(path, "path"), reason)
		}
		return nil
	}
	if f == FormatMDoc {
		_, ok1 := p[0].(string)
		ok2 := len(p) == 2
		if ok2 {
			_, ok2 = p[1].(string)
		}
		if !ok1 || !ok2 {
			c.add(member(path, "path"), "an mso_mdoc claim path is exactly two strings: a namespace and a data element identifier")
		}
	}
	cl.Path = p
	if vals, ok := array(c, obj, "values", path, false); ok {
		for i, vv := range vals {
			vp := idx(member(path, "values"), i)
			switch x := vv.(type) {
			case string:
				if len(x) > MaxStringLength || !utf8.ValidString(x) {
					c.add(vp, fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxStringLength))
					continue
				}
				cl.Values = append(cl.Values, x)
			case bool:
				cl.Values = append(cl.Values, x)
			case json.Number:
				n, ok := integer(x)
				if !ok {
					c.add(vp, "a number must be an integer (written without fraction or exponent) within 64 bits")
					continue
				}
				cl.Values = append(cl.Values, n)
			default:
				c.add(vp, "must be a string, an integer or a boolean")
			}
		}
	}
	if b, ok := boolean(c, obj, "intent_to_retain", path); ok {
		if f != FormatMDoc && f != "" {
			c.add(member(path, "intent_to_retain"), "defined only for format mso_mdoc")
		}
		cl.IntentToRetain = &b
	}
	return cl
}

func parseCredentialSet(c *collector, v any, path string, credIDs map[string]bool) *CredentialSetQuery {
	obj, ok := v.(map[string]any)
	if !ok {
		c.add(path, "must be an object")
		return nil
	}
	s := &CredentialSetQuery{Required: true}
	if b, ok := boolean(c, obj, "required", path); ok {
		s.Required = b
	}
	opts, ok := array(c, obj, "options", path, true)
	if !ok {
		return nil
	}
	for i, ov := range opts {
		o, ok := idList(c, ov, idx(member(path, "options"), i), credIDs, "Credential Query id")
		if ok {
			s.Options = append(s.Options, o)
		}
	}
	return s
}

// idList reads a non-empty array of identifiers, each in known, none
// repeated.
func idList(c *collector, v any, path string, known map[string]bool, what string) ([]string, bool) {
	ids, ok := stringArray(c, v, path)
	if !ok {
		return nil, false
	}
	seen := map[string]bool{}
	for i, s := range ids {
		switch {
		case !IsValidID(s):
			c.add(idx(path, i), "not a valid id (letters, digits, '_' and '-')")
			ok = false
		case !known[s]:
			c.add(idx(path, i), "refers to no "+what)
			ok = false
		case seen[s]:
			c.add(idx(path, i), "repeated "+what)
			ok = false
		}
		seen[s] = true
	}
	return ids, ok
}

// array reads obj[name] as a non-empty array of at most MaxItems
// elements. ok is false if it is absent or invalid.
func array(c *collector, obj map[string]any, name, path string, required bool) ([]any, bool) {
	v, present := obj[name]
	p := member(path, name)
	if !present {
		if required {
			c.add(p, "required")
		}
		return nil, false
	}
	a, ok := v.([]any)
	switch {
	case !ok:
		c.add(p, "must be an array")
		return nil, false
	case len(a) == 0:
		c.add(p, "must not be empty")
		return nil, false
	case len(a) > MaxItems:
		c.add(p, fmt.Sprintf("must have at most %d elements", MaxItems))
		return nil, false
	}
	return a, true
}

// stringArray reads v as a non-empty array of non-empty strings.
func stringArray(c *collector, v any, path string) ([]string, bool) {
	a, ok := v.([]any)
	switch {
	case !ok:
		c.add(path, "must be an array of strings")
		return nil, false
	case len(a) == 0:
		c.add(path, "must not be empty")
		return nil, false
	case len(a) > MaxItems:
		c.add(path, fmt.Sprintf("must have at most %d elements", MaxItems))
		return nil, false
	}
	out := make([]string, 0, len(a))
	good := true
	for i, e := range a {
		s, ok := e.(string)
		if !ok || !goodString(s) {
			c.add(idx(path, i), fmt.Sprintf("must be a non-empty UTF-8 string of at most %d bytes", MaxStringLength))
			good = false
			continue
		}
		out = append(out, s)
	}
	return out, good
}

func stringList(c *collector, obj map[string]any, name, path string, required bool) ([]string, bool) {
	v, present := obj[name]
	if !present {
		if required {
			c.add(member(path, name), "required")
		}
		return nil, false
	}
	return stringArray(c, v, member(path, name))
}

func str(c *collector, obj map[string]any, name, path string, required bool) (string, bool) {
	v, present := obj[name]
	p := member(path, name)
	if !present {
		if required {
			c.add(p, "required")
		}
		return "", false
	}
	s, ok := v.(string)
	if !ok || !goodString(s) {
		c.add(p, fmt.Sprintf("must be a non-empty UTF-8 string of at most %d bytes", MaxStringLength))
		return "", false
	}
	return s, true
}

func ident(c *collector, obj map[string]any, name, path string, required bool) (string, bool) {
	v, present := obj[name]
	p := member(path, name)
	if !present {
		if required {
			c.add(p, "required")
		}
		return "", false
	}
	s, ok := v.(string)
	if !ok || !IsValidID(s) {
		c.add(p, fmt.Sprintf("must be a non-empty string of at most %d letters, digits, '_' and '-'", MaxIDLength))
		return "", false
	}
	return s, true
}

func boolean(c *collector, obj map[string]any, name, path string) (bool, bool) {
	v, present := obj[name]
	if !present {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		c.add(member(path, name), "must be a boolean")
		return false, false
	}
	return b, true
}

func goodString(s string) bool {
	return s != "" && len(s) <= MaxStringLength && utf8.ValidString(s)
}

// integer parses n as an int64 written without fraction or exponent.
func integer(n json.Number) (int64, bool) {
	s := string(n)
	if strings.ContainsAny(s, ".eE") {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// wire types for MarshalJSON.
type (
	wireQuery struct {
		Credentials    []wireCredential `json:"credentials"`
		CredentialSets []wireSet        `json:"credential_sets,omitempty"`
	}
	wireCredential struct {
		ID                   string          `json:"id"`
		Format               Format          `json:"format"`
		Multiple             bool            `json:"multiple,omitempty"`
		Meta                 wireMeta        `json:"meta"`
		TrustedAuthorities   []wireAuthority `json:"trusted_authorities,omitempty"`
		RequireHolderBinding *bool           `json:"require_cryptographic_holder_binding,omitempty"`
		Claims               []wireClaim     `json:"claims,omitempty"`
		ClaimSets            [][]string      `json:"claim_sets,omitempty"`
	}
	wireMeta struct {
		VCTValues    []string   `json:"vct_values,omitempty"`
		TypeValues   [][]string `json:"type_values,omitempty"`
		DoctypeValue string     `json:"doctype_value,omitempty"`
	}
	wireAuthority struct {
		Type   string   `json:"type"`
		Values []string `json:"values"`
	}
	wireClaim struct {
		ID             string `json:"id,omitempty"`
		Path           []any  `json:"path"`
		Values         []any  `json:"values,omitempty"`
		IntentToRetain *bool  `json:"intent_to_retain,omitempty"`
	}
	wireSet struct {
		Options  [][]string `json:"options"`
		Required *bool      `json:"required,omitempty"`
	}
)

// MarshalJSON encodes q as a DCQL query. Defaults are left out
// (multiple false, require_cryptographic_holder_binding and required
// true); members the query had that DCQL does not define are not kept.
func (q Query) MarshalJSON() ([]byte, error) {
	w := wireQuery{Credentials: []wireCredential{}}
	for _, cq := range q.Credentials {
		wc := wireCredential{ID: cq.ID, Format: cq.Format, Multiple: cq.Multiple, ClaimSets: cq.ClaimSets,
			Meta: wireMeta{VCTValues: cq.Meta.VCTValues, TypeValues: cq.Meta.TypeValues, DoctypeValue: cq.Meta.DoctypeValue}}
		if !cq.RequireHolderBinding {
			f := false
			wc.RequireHolderBinding = &f
		}
		for _, ta := range cq.TrustedAuthorities {
			wc.TrustedAuthorities = append(wc.TrustedAuthorities, wireAuthority(ta))
		}
		for _, cl := range cq.Claims {
			wc.Claims = append(wc.Claims, wireClaim{ID: cl.ID, Path: []any(cl.Path), Values: cl.Values, IntentToRetain: cl.IntentToRetain})
		}
		w.Credentials = append(w.Credentials, wc)
	}
	for _, s := range q.CredentialSets {
		ws := wireSet{Options: s.Options}
		if !s.Required {
			f := false
			ws.Required = &f
		}
		w.CredentialSets = append(w.CredentialSets, ws)
	}
	return json.Marshal(w)
}

// Validate checks a Query built in code by encoding it and parsing it
// again; it returns what Parse would.
func (q *Query) Validate() error {
	b, err := q.MarshalJSON()
	if err != nil {
		return &Error{Kind: ErrInvalidQuery, Problems: []Problem{{"", "cannot be encoded: " + err.Error()}}}
	}
	_, err = Parse(b)
	return err
}
