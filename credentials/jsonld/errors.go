package jsonld

import (
	"errors"
	"fmt"
)

// UnknownContextError is returned for a context URL that is neither bundled
// nor registered with the Loader. Nothing is fetched.
type UnknownContextError struct{ URL string }

func (e *UnknownContextError) Error() string {
	return fmt.Sprintf("jsonld: context %q is not one medid knows (contexts are never fetched)", e.URL)
}

// UnknownTermError is returned for a property or type that no context in
// scope defines, which plain JSON-LD would drop without a word.
type UnknownTermError struct{ Term string }

func (e *UnknownTermError) Error() string {
	return fmt.Sprintf("jsonld: term %q is not defined by the document's contexts", e.Term)
}

// InvalidIRIError is returned for an identifier (a node's id, a type, a
// property or a datatype) that expands to neither an absolute IRI nor a
// blank node, which conversion to RDF would drop.
type InvalidIRIError struct {
	IRI   string
	Where string // "@id", "@type", "property" or "datatype"
}

func (e *InvalidIRIError) Error() string {
	return fmt.Sprintf("jsonld: %s %q is not an absolute IRI", e.Where, e.IRI)
}

// ErrInvalid is wrapped by every error about a document JSON-LD cannot
// process (bad syntax, conflicting definitions, redefined protected terms).
var ErrInvalid = errors.New("jsonld: invalid JSON-LD")

// ErrUnsupported is wrapped for JSON-LD features medid refuses because they
// would defeat its checks (an inline context that clears @vocab).
var ErrUnsupported = errors.New("jsonld: unsupported JSON-LD")
