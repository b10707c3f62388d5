package health

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// MaxScopeLength is the longest scope string ParseScope accepts, in bytes.
const MaxScopeLength = 1024

// ErrInvalidScope is wrapped by every error ParseScope returns.
var ErrInvalidScope = errors.New("invalid SMART scope")

// ScopeContext is the first segment of a SMART resource scope: whose data
// the scope is about.
type ScopeContext string

// The SMART scope contexts.
const (
	// PatientContext scopes cover the resources in the current patient's
	// compartment.
	PatientContext ScopeContext = "patient"
	// UserContext scopes cover what the current user may access.
	UserContext ScopeContext = "user"
	// SystemContext scopes cover what the client itself may access
	// (backend services).
	SystemContext ScopeContext = "system"
)

// Permissions is a set of SMART v2 interactions: create, read, update,
// delete and search. Its String form lists them in the order SMART requires
// ("cruds", "rs").
type Permissions uint8

// The SMART v2 permissions.
const (
	PermCreate Permissions = 1 << iota // c: create
	PermRead                           // r: read, vread, history of one instance
	PermUpdate                         // u: update, patch
	PermDelete                         // d: delete
	PermSearch                         // s: search, history of a type
)

const permLetters = "cruds"

// String returns the permission letters in SMART order, e.g. "rs".
func (p Permissions) String() string {
	var b strings.Builder
	for i := 0; i < len(permLetters); i++ {
		if p&(1<<i) != 0 {
			b.WriteByte(permLetters[i])
		}
	}
	return b.String()
}

// Has reports whether p includes the interaction named by its SMART letter
// ('c', 'r', 'u', 'd' or 's'). Any other rune is never included.
func (p Permissions) Has(interaction rune) bool {
	i := strings.IndexRune(permLetters, interaction)
	return i >= 0 && p&(1<<i) != 0
}

// Scope is a SMART App Launch 2.x scope for FHIR resources, parsed and
// validated once by ParseScope:
//
//	scope       = context "/" resource-type "." permissions [ "?" query ]
//	context     = "patient" / "user" / "system"
//	resource-type = FHIR resource type name / "*"
//	permissions = [ "c" ] [ "r" ] [ "u" ] [ "d" ] [ "s" ]   ; at least one, in this order
//	query       = param "=" value *( "&" param "=" value )  ; URL-encoded
//
// for example "patient/Observation.rs" or
// "patient/Condition.rs?category=problem-list-item".
//
// SMART v1 permissions (".read", ".write", ".*") are refused: v1 "write"
// cannot say which of create, update and delete it means, and a
// credential, unlike an OAuth request, is a new artifact with no legacy to
// carry. ParseScope's error names the v2 equivalent ("read" is "rs",
// "write" is "cud", "*" is "cruds").
//
// The zero Scope is not a valid scope; test for it with IsZero. Two scopes
// are the same scope when their String forms are equal.
type Scope struct {
	s       string
	context ScopeContext
	rtype   string
	perms   Permissions
	query   url.Values
}

// ParseScope parses s as a SMART v2 resource scope. Query parameter names
// are FHIR search parameter names (letters, digits, '_', '-', '.', ':'),
// each appearing once with a non-empty value; a value may list
// alternatives separated by commas, as in FHIR search. Errors wrap
// ErrInvalidScope and do not quote s.
func ParseScope(s string) (Scope, error) {
	sc, reason := parseScope(s)
	if reason != "" {
		return Scope{}, fmt.Errorf("%w: %s", ErrInvalidScope, reason)
	}
	return sc, nil
}

func parseScope(s string) (Scope, string) {
	if s == "" {
		return Scope{}, "empty"
	}
	if len(s) > MaxScopeLength {
		return Scope{}, fmt.Sprintf("longer than %d bytes", MaxScopeLength)
	}
	if !utf8.ValidString(s) {
		return Scope{}, "not valid UTF-8"
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return Scope{}, fmt.Sprintf("white space or control character at offset %d", i)
		}
	}
	head, rawQuery, hasQuery := strings.Cut(s, "?")
	ctx, rest, ok := strings.Cut(head, "/")
	if !ok {
		return Scope{}, `missing "/" after the context (want patient/, user/ or system/)`
	}
	switch ScopeContext(ctx) {
	case PatientContext, UserContext, SystemContext:
	default:
		return Scope{}, "unknown context (want patient, user or system)"
	}
	rtype, perm, ok := strings.Cut(rest, ".")
	if !ok {
		return Scope{}, `missing "." before the permissions`
	}
	if rtype != "*" && !IsResourceType(rtype) {
		return Scope{}, "unknown FHIR resource type (want a type name such as Observation, or *)"
	}
	perms, reason := parsePermissions(perm)
	if reason != "" {
		return Scope{}, reason
	}
	sc := Scope{s: s, context: ScopeContext(ctx), rtype: rtype, perms: perms}
	if hasQuery {
		q, reason := parseScopeQuery(rawQuery)
		if reason != "" {
			return Scope{}, reason
		}
		sc.query = q
	}
	return sc, ""
}

func parsePermissions(p string) (Permissions, string) {
	switch p {
	case "":
		return 0, "empty permissions (want a subset of cruds, e.g. rs)"
	case "read":
		return 0, `SMART v1 permission "read" is not accepted; use "rs"`
	case "write":
		return 0, `SMART v1 permission "write" is not accepted; use "cud"`
	case "*":
		return 0, `SMART v1 permission "*" is not accepted; use "cruds"`
	}
	var perms Permissions
	next := 0 // index in permLetters of the next letter allowed
	for i := 0; i < len(p); i++ {
		j := strings.IndexByte(permLetters, p[i])
		switch {
		case j < 0:
			return 0, fmt.Sprintf("unknown permission at offset %d (want c, r, u, d or s)", i)
		case j < next:
			return 0, "permissions out of order or repeated (want them in the order c, r, u, d, s)"
		}
		perms |= 1 << j
		next = j + 1
	}
	return perms, ""
}

func parseScopeQuery(raw string) (url.Values, string) {
	if raw == "" {
		return nil, `empty query after "?"`
	}
	q := url.Values{}
	for _, pair := range strings.Split(raw, "&") {
		name, value, ok := strings.Cut(pair, "=")
		if !ok || name == "" {
			return nil, "query parameter without a name or a value (want param=value)"
		}
		if !isSearchParamName(name) {
			return nil, "query parameter name is not a FHIR search parameter name"
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			return nil, "query value is not validly URL-encoded"
		}
		if v == "" {
			return nil, "empty query value"
		}
		for i := 0; i < len(v); i++ {
			if v[i] < ' ' || v[i] == 0x7f {
				return nil, "control character in a query value"
			}
		}
		if !utf8.ValidString(v) {
			return nil, "query value is not valid UTF-8"
		}
		for _, alt := range strings.Split(v, ",") {
			if alt == "" {
				return nil, "empty alternative in a comma-separated query value"
			}
		}
		if _, dup := q[name]; dup {
			return nil, "query parameter repeated (list alternatives with commas instead)"
		}
		q[name] = []string{v}
	}
	return q, ""
}

func isSearchParamName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return s != ""
}

// String returns the scope as it was parsed, or "" for the zero Scope.
func (s Scope) String() string { return s.s }

// IsZero reports whether s is the zero Scope.
func (s Scope) IsZero() bool { return s.s == "" }

// Context returns the scope's context: patient, user or system.
func (s Scope) Context() ScopeContext { return s.context }

// ResourceType returns the FHIR resource type the scope covers, or "*" for
// every type.
func (s Scope) ResourceType() string { return s.rtype }

// Permissions returns the interactions the scope grants.
func (s Scope) Permissions() Permissions { return s.perms }

// Query returns a copy of the scope's search parameter constraints (each
// name with exactly one, possibly comma-separated, value), or nil if it has
// none.
func (s Scope) Query() url.Values {
	if s.query == nil {
		return nil
	}
	out := make(url.Values, len(s.query))
	for k, v := range s.query {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// Allows reports whether the scope grants one interaction, named by its
// SMART letter ('c', 'r', 'u', 'd' or 's'), on resources of resourceType
// that are restricted to params.
//
// params describes the data the request is known to touch: for a search,
// its search parameters; for a read, update or delete, the values of the
// constrained search parameters that the target resource matches (e.g.
// category=laboratory for a laboratory Observation). A value may list
// alternatives separated by commas. If the scope has query constraints,
// every constrained parameter must be present in params and every value
// given for it must be one the scope allows; parameters the scope does not
// constrain may narrow the request freely. Values are compared as exact
// strings, so a token given as "system|code" does not match a scope that
// says just "code" (or the reverse): the answer errs towards refusal.
//
// A scope for "*" covers every FHIR resource type (and the pseudo-type
// "*", a request across all types); an unknown resource type is never
// allowed. Allows does not look at the scope's context: that the data lies
// in the consenting patient's compartment (patient scopes) is for the
// caller to establish. The zero Scope allows nothing.
func (s Scope) Allows(interaction rune, resourceType string, params url.Values) bool {
	if s.IsZero() || !s.perms.Has(interaction) {
		return false
	}
	switch {
	case s.rtype == "*":
		if resourceType != "*" && !IsResourceType(resourceType) {
			return false
		}
	case s.rtype != resourceType:
		return false
	}
	for name, allowed := range s.query {
		got := params[name]
		if len(got) == 0 {
			return false
		}
		ok := map[string]bool{}
		for _, a := range strings.Split(allowed[0], ",") {
			ok[a] = true
		}
		for _, v := range got {
			for _, alt := range strings.Split(v, ",") {
				if !ok[alt] {
					return false
				}
			}
		}
	}
	return true
}

// MarshalText implements encoding.TextMarshaler. The zero Scope marshals as
// empty text.
func (s Scope) MarshalText() ([]byte, error) { return []byte(s.s), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseScope. Empty
// text unmarshals to the zero Scope, so callers decoding a required scope
// must check IsZero.
func (s *Scope) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*s = Scope{}
		return nil
	}
	p, err := ParseScope(string(text))
	if err != nil {
		return err
	}
	*s = p
	return nil
}
