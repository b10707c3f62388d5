package dcql

import "github.com/medid/medid/internal/jsonx"

// maxDepth bounds the nesting of any JSON value this package decodes.
const maxDepth = 64

// decodeJSON parses one JSON value strictly: numbers stay json.Number;
// duplicate member names, nesting deeper than maxDepth and trailing data
// are refused. encoding/json keeps the last of duplicate members, and
// another parser might keep the first, so a query or response with
// duplicates could mean different things to the wallet and the verifier.
func decodeJSON(data []byte) (any, error) {
	return jsonx.Decode(data, maxDepth)
}
