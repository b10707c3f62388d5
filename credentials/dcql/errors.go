package dcql

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error Parse, ParseVPToken, CheckResponse and
// CheckPresentation return wraps one of them.
var (
	// ErrInvalidQuery reports a DCQL query that is not valid JSON or
	// breaks a rule of OpenID4VP section 6.
	ErrInvalidQuery = errors.New("invalid DCQL query")
	// ErrInvalidPath reports a claims path pointer that is not a
	// non-empty array of strings, nulls and non-negative integers.
	ErrInvalidPath = errors.New("invalid claims path pointer")
	// ErrClaimNotFound reports a claims path pointer that selects
	// nothing in a credential.
	ErrClaimNotFound = errors.New("claim not found")
	// ErrPathMismatch reports a claims path pointer that meets a value
	// of the wrong JSON type in a credential (a key into an array, an
	// index into an object).
	ErrPathMismatch = errors.New("claims path pointer does not fit the credential")
	// ErrInvalidVPToken reports a vp_token that is not a JSON object of
	// non-empty arrays of presentations.
	ErrInvalidVPToken = errors.New("invalid vp_token")
	// ErrResponseMismatch reports a vp_token or presentation that does
	// not satisfy the query.
	ErrResponseMismatch = errors.New("response does not satisfy the DCQL query")
)

// Problem is one rule broken by a query or a response: Path is the JSON
// path of the offending member ("credentials[0].meta.vct_values", or ""
// for the whole document) and Message says what is wrong. Messages never
// quote claim values.
type Problem struct {
	Path    string
	Message string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Error is every problem found in one query or response. It wraps the
// sentinel in Kind (ErrInvalidQuery, ErrInvalidVPToken or
// ErrResponseMismatch), so errors.Is works on it.
type Error struct {
	Kind     error
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	switch len(e.Problems) {
	case 0:
	case 1:
		b.WriteString(": ")
		b.WriteString(e.Problems[0].String())
	default:
		b.WriteString(" (")
		b.WriteString(strconv.Itoa(len(e.Problems)))
		b.WriteString(" problems): ")
		for i, p := range e.Problems {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(p.String())
		}
	}
	return b.String()
}

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

// maxProblems bounds the problems one Error collects, so that a hostile
// document cannot make an error message unboundedly long.
const maxProblems = 20

// collector gathers problems.
type collector struct {
	probs []Problem
	more  bool
}

func (c *collector) add(path, msg string) {
	if len(c.probs) >= maxProblems {
		c.more = true
		return
	}
	c.probs = append(c.probs, Problem{path, msg})
}

func (c *collector) err(kind error) error {
	if len(c.probs) == 0 {
		return nil
	}
	probs := c.probs
	if c.more {
		probs = append(probs, Problem{"", "further problems not listed"})
	}
	return &Error{Kind: kind, Problems: probs}
}

func idx(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func member(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
