package did

import "errors"

// resolutionError is a sentinel error carrying its W3C DID Resolution error
// type.
type resolutionError struct {
	typ string
	msg string
}

func (e *resolutionError) Error() string { return e.msg }

// Sentinel errors. Every error returned by this package and by the DID
// methods wraps at most one of them; test with errors.Is and map to the
// W3C DID Resolution error code with ErrorType.
var (
	// ErrInvalidDID reports a string that is not a conformant DID, or a DID
	// that its method rejects ("invalidDid").
	ErrInvalidDID error = &resolutionError{"invalidDid", "invalid DID"}
	// ErrInvalidDIDURL reports a string that is not a conformant DID URL
	// ("invalidDidUrl").
	ErrInvalidDIDURL error = &resolutionError{"invalidDidUrl", "invalid DID URL"}
	// ErrNotFound reports that the DID, or the resource a DID URL names,
	// does not exist ("notFound").
	ErrNotFound error = &resolutionError{"notFound", "not found"}
	// ErrMethodNotSupported reports a DID whose method the resolver does
	// not support ("methodNotSupported").
	ErrMethodNotSupported error = &resolutionError{"methodNotSupported", "DID method not supported"}
	// ErrRepresentationNotSupported reports a requested representation
	// (media type) that cannot be produced ("representationNotSupported").
	ErrRepresentationNotSupported error = &resolutionError{"representationNotSupported", "representation not supported"}
	// ErrInvalidOptions reports resolution options that are malformed or
	// not supported by the method ("invalidOptions").
	ErrInvalidOptions error = &resolutionError{"invalidOptions", "invalid resolution options"}
	// ErrInternal reports a failure inside the resolver or a method
	// ("internalError"). Errors that wrap no sentinel are internal too.
	ErrInternal error = &resolutionError{"internalError", "internal error"}
)

// ErrorType returns the W3C DID Resolution error type for err: "" for a nil
// error, the type of the sentinel err wraps, and "internalError" for any
// other error.
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	var re *resolutionError
	if errors.As(err, &re) {
		return re.typ
	}
	return "internalError"
}
