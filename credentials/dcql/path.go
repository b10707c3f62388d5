package dcql

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxPathLength is the most components a claims path pointer may have.
const MaxPathLength = 32

// maxSelection bounds how many elements processing a claims path pointer
// may select, so that a pointer full of nulls over nested arrays cannot
// make matching do unbounded work.
const maxSelection = 4096

// Path is a claims path pointer (OpenID4VP section 7): a non-empty list
// whose components are a string (an object member), a non-negative int
// (an array index) or nil (every element of an array). It has the shape
// sdjwt.DisclosePaths and health.Claim use.
type Path []any

// NewPath returns the path of components after checking them with Check.
func NewPath(components ...any) (Path, error) {
	p := Path(components)
	if err := p.Check(); err != nil {
		return nil, err
	}
	return p, nil
}

// MustPath is NewPath for paths known to be valid (in templates and
// tests); it panics on an invalid path.
func MustPath(components ...any) Path {
	p, err := NewPath(components...)
	if err != nil {
		panic(err)
	}
	return p
}

// Check reports whether p is a valid claims path pointer: non-empty, at
// most MaxPathLength components, each a string, nil or non-negative int.
// Errors wrap ErrInvalidPath.
func (p Path) Check() error {
	if reason := p.check(); reason != "" {
		return fmt.Errorf("%w: %s", ErrInvalidPath, reason)
	}
	return nil
}

func (p Path) check() string {
	if len(p) == 0 {
		return "empty"
	}
	if len(p) > MaxPathLength {
		return fmt.Sprintf("more than %d components", MaxPathLength)
	}
	for i, c := range p {
		switch v := c.(type) {
		case nil, string:
		case int:
			if v < 0 {
				return fmt.Sprintf("component %d is a negative index", i)
			}
		default:
			return fmt.Sprintf("component %d is not a string, null or non-negative integer", i)
		}
	}
	return ""
}

// String returns p as JSON, e.g. ["degrees",null,"type"].
func (p Path) String() string {
	b, err := json.Marshal([]any(p))
	if err != nil {
		return "<invalid path>"
	}
	return string(b)
}

// Equal reports whether p and q have the same components.
func (p Path) Equal(q Path) bool {
	if len(p) != len(q) {
		return false
	}
	for i := range p {
		if !sameComponent(p[i], q[i]) {
			return false
		}
	}
	return true
}

func sameComponent(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		s, ok := b.(string)
		return ok && s == a
	case int:
		n, ok := b.(int)
		return ok && n == a
	}
	return false
}

// IsConcrete reports whether p has no nil component, so that it names at
// most one claim.
func (p Path) IsConcrete() bool {
	for _, c := range p {
		if c == nil {
			return false
		}
	}
	return true
}

// parsePath converts a decoded JSON array into a Path, or says why it
// cannot. Integers must be written as integers (no fraction or exponent)
// and fit an int.
func parsePath(v any) (Path, string, int) {
	arr, ok := v.([]any)
	if !ok {
		return nil, "must be an array", -1
	}
	if len(arr) == 0 {
		return nil, "must not be empty", -1
	}
	if len(arr) > MaxPathLength {
		return nil, fmt.Sprintf("must have at most %d components", MaxPathLength), -1
	}
	p := make(Path, len(arr))
	for i, c := range arr {
		switch c := c.(type) {
		case nil:
			p[i] = nil
		case string:
			p[i] = c
		case json.Number:
			n, ok := nonNegativeInt(c)
			if !ok {
				return nil, "must be a string, null or non-negative integer", i
			}
			p[i] = n
		default:
			return nil, "must be a string, null or non-negative integer", i
		}
	}
	return p, "", -1
}

func nonNegativeInt(n json.Number) (int, bool) {
	s := string(n)
	if s == "" || strings.ContainsAny(s, ".eE-+") {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v > math.MaxInt32 {
		return 0, false
	}
	return int(v), true
}

// ParsePath parses a claims path pointer from its JSON form. Errors wrap
// ErrInvalidPath.
func ParsePath(data []byte) (Path, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w: not valid JSON: %v", ErrInvalidPath, err)
	}
	p, reason, at := parsePath(v)
	if reason != "" {
		if at >= 0 {
			return nil, fmt.Errorf("%w: component %d %s", ErrInvalidPath, at, reason)
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidPath, reason)
	}
	return p, nil
}

// MarshalJSON encodes p as a JSON array.
func (p Path) MarshalJSON() ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	return json.Marshal([]any(p))
}

// Selected is one claim that a claims path pointer selected: its concrete
// path (nil components replaced by indexes) and its value.
type Selected struct {
	Path  Path
	Value any
}

// Select processes p against a JSON-based credential (OpenID4VP section
// 7.1): root is the credential's claims as encoding/json decodes them into
// an any (map[string]any, []any, string, float64 or json.Number, bool,
// nil). It returns the selected claims in document order (array order;
// an object member has one result per selected parent).
//
// As the specification says, processing aborts with an error wrapping
// ErrPathMismatch when a string component meets a non-object, or an index
// or null component a non-array (including a root that is not an object),
// and with ErrClaimNotFound when nothing is selected. Missing keys and
// indexes simply drop out of the selection.
func (p Path) Select(root any) ([]Selected, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	if _, ok := root.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: the credential is not a JSON object", ErrPathMismatch)
	}
	cur := []Selected{{Path: Path{}, Value: root}}
	for i, comp := range p {
		var next []Selected
		for _, s := range cur {
			switch c := comp.(type) {
			case string:
				obj, ok := s.Value.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%w: component %d names a member of a non-object", ErrPathMismatch, i)
				}
				if v, ok := obj[c]; ok {
					next = append(next, Selected{Path: extend(s.Path, c), Value: v})
				}
			case nil:
				arr, ok := s.Value.([]any)
				if !ok {
					return nil, fmt.Errorf("%w: component %d selects the elements of a non-array", ErrPathMismatch, i)
				}
				if len(next)+len(arr) > maxSelection {
					return nil, fmt.Errorf("%w: selects more than %d claims", ErrPathMismatch, maxSelection)
				}
				for j, v := range arr {
					next = append(next, Selected{Path: extend(s.Path, j), Value: v})
				}
			case int:
				arr, ok := s.Value.([]any)
				if !ok {
					return nil, fmt.Errorf("%w: component %d indexes a non-array", ErrPathMismatch, i)
				}
				if c < len(arr) {
					next = append(next, Selected{Path: extend(s.Path, c), Value: arr[c]})
				}
			}
		}
		cur = next
	}
	if len(cur) == 0 {
		return nil, ErrClaimNotFound
	}
	return cur, nil
}

// selectMdoc processes p against an ISO mdoc (OpenID4VP section 7.2):
// root maps each namespace to its data elements. The path must be exactly
// a namespace and a data element identifier.
func (p Path) selectMdoc(root map[string]any) ([]Selected, error) {
	if len(p) != 2 {
		return nil, fmt.Errorf("%w: an mdoc claim path has exactly two components", ErrInvalidPath)
	}
	ns, ok1 := p[0].(string)
	el, ok2 := p[1].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: an mdoc claim path has two strings", ErrInvalidPath)
	}
	elems, ok := root[ns].(map[string]any)
	if !ok {
		return nil, ErrClaimNotFound
	}
	v, ok := elems[el]
	if !ok {
		return nil, ErrClaimNotFound
	}
	return []Selected{{Path: Path{ns, el}, Value: v}}, nil
}

func extend(p Path, c any) Path {
	out := make(Path, len(p)+1)
	copy(out, p)
	out[len(p)] = c
	return out
}
