package health

import (
	"errors"
	"strconv"
	"strings"
)

// ErrUnknownType reports a credential type name that this package does not
// define.
var ErrUnknownType = errors.New("unknown credential type")

// ValidationError is one invalid claim. Field is the claim's JSON path
// ("birthdate", "identifiers[1].system", "scopes[0]"); Reason says what is
// wrong with it. Reasons never quote the claim's value, so a
// ValidationError is safe to log and to return to a client.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// ValidationErrors is the list of every invalid claim found in one claim
// set, in a deterministic order. Validate and Decode return it (as an
// error) whenever a claim set is invalid; errors.As also finds the first
// *ValidationError through it.
type ValidationErrors []*ValidationError

func (es ValidationErrors) Error() string {
	switch len(es) {
	case 0:
		return "no validation errors"
	case 1:
		return "invalid claim " + es[0].Error()
	}
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(es)))
	b.WriteString(" invalid claims: ")
	for i, e := range es {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the individual errors, for errors.Is and errors.As.
func (es ValidationErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Fields returns the JSON paths of the invalid claims, in order.
func (es ValidationErrors) Fields() []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Field
	}
	return out
}

// collector accumulates validation errors.
type collector struct{ list ValidationErrors }

func (c *collector) add(field, reason string) {
	c.list = append(c.list, &ValidationError{Field: field, Reason: reason})
}

func (c *collector) err() error {
	if len(c.list) == 0 {
		return nil
	}
	return c.list
}

// join builds a JSON path from a parent path and a member name.
func join(parent, member string) string {
	if parent == "" {
		return member
	}
	return parent + "." + member
}

// joinKey is join for a member name that came from the input: a name that
// is not a plain identifier is quoted (and truncated) as ["name"], so that
// the path stays readable and unambiguous.
func joinKey(parent, member string) string {
	plain := member != ""
	for i := 0; i < len(member); i++ {
		c := member[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '#') {
			plain = false
			break
		}
	}
	if plain && len(member) <= 64 {
		return join(parent, member)
	}
	if len(member) > 64 {
		member = strings.ToValidUTF8(member[:64], "") + "…"
	}
	return parent + "[" + strconv.Quote(member) + "]"
}

// index builds the JSON path of an array element.
func index(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}
